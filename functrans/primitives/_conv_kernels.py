"""jit lowering of conv_general_dilated (functrans/primitives/convolution.py).

Three strategies, measured on every convolution of the digits CNN's training step
(benchmarks/bench_cnn.py; the table is in docs/convolutions.md):

  im2col (numpy)  each window's elements copied into one row of a column matrix by numpy (a
                  strided window view of the padded operand, channels innermost, copied in C
                  into a buffer reused from call to call), then one np.matmul (BLAS) per group.
  im2col-numba    the same columns written by a Numba kernel (dilation, padding and strides
                  resolved by index arithmetic, no padded copy), in cache-sized chunks.
  direct          a Numba loop nest: for each operand element a window reads, an axpy over the
                  output features.

The numpy copy + BLAS was fastest on every one of those convolutions (Numba's strided gathers
ran 1.5-4x slower than numpy's C copy, the direct loops 2-40x slower than BLAS), so it is the
lowering; the two Numba kernels stay for that measurement (ConvCall(..., strategy=...)).
Operands of up to three spatial axes with a floating dtype take this path; others (more axes,
integers, complex, empty arrays) call the numpy impl.
"""
import math
import threading

import numpy as np

from ..backend.lowering import _impl_caller
from ..core.ir import Var
from .windowed import padded

_KERNELS = {}


def _kernels():
    """The Numba kernels, compiled on first use (and cached on disk by Numba). Both read the
    operand channels-last, x (N, H, W, D, C), and the kernel as (KH, KW, KD, Cg, O): the
    innermost loops then run over contiguous channels."""
    if not _KERNELS:
        import numba
        _KERNELS.update(im2col=_im2col_kernel(numba), direct=_direct_kernel(numba))
    return _KERNELS


def _im2col_kernel(numba):
    """The im2col-numba strategy's kernel: one chunk of batch members' column rows."""
    @numba.njit(cache=True, nogil=True, boundscheck=False, error_model='numpy')
    def im2col(x, cols, st, lo, ld, rd, ks, osp, b, g, m_start, m_stop):
        # Rows of batch members m_start <= m < m_stop (a chunk: see ConvCall.__call__).
        n, h, w, d, c = x.shape
        nb, cg = n // b, c // g
        # Geometry as local scalars: read from the arrays inside the loops, every store into
        # cols would force a reload (Numba cannot rule out aliasing).
        s0, s1, s2 = st[0], st[1], st[2]
        l0, l1, l2 = lo[0], lo[1], lo[2]
        d0, d1, d2 = ld[0], ld[1], ld[2]
        r0, r1, r2 = rd[0], rd[1], rd[2]
        k0, k1, k2 = ks[0], ks[1], ks[2]
        o0, o1, o2 = osp[0], osp[1], osp[2]
        for q in range(b * g):
            bi, gi = q // g, q % g
            for m in range(m_start, m_stop):
                src = bi * nb + m
                for oh in range(o0):
                    for ow in range(o1):
                        for od in range(o2):
                            row = (((m - m_start) * o0 + oh) * o1 + ow) * o2 + od
                            col = 0
                            for kh in range(k0):
                                ph = oh * s0 + kh * r0 - l0
                                ih = ph // d0
                                okh = ph >= 0 and ph - ih * d0 == 0 and ih < h
                                for kw in range(k1):
                                    pw = ow * s1 + kw * r1 - l1
                                    iw = pw // d1
                                    okw = okh and pw >= 0 and pw - iw * d1 == 0 and iw < w
                                    for kd in range(k2):
                                        pd = od * s2 + kd * r2 - l2
                                        idd = pd // d2
                                        if okw and pd >= 0 and pd - idd * d2 == 0 and idd < d:
                                            base = gi * cg
                                            for ci in range(cg):
                                                cols[q, row, col + ci] = x[src, ih, iw, idd,
                                                                           base + ci]
                                        else:
                                            for ci in range(cg):
                                                cols[q, row, col + ci] = 0
                                        col += cg
    return im2col


def _direct_kernel(numba):
    """The direct strategy's loop nest."""
    @numba.njit(cache=True, nogil=True, boundscheck=False, error_model='numpy')
    def direct(x, wt, out, st, lo, ld, rd, b, g):
        # out (Nb, OH, OW, OD, O): for each operand element a window reads, an axpy over the
        # output features (contiguous in both wt and out).
        n, h, w, d, c = x.shape
        k0, k1, k2, cg, o = wt.shape
        nb = n // b
        s0, s1, s2 = st[0], st[1], st[2]
        l0, l1, l2 = lo[0], lo[1], lo[2]
        d0, d1, d2 = ld[0], ld[1], ld[2]
        r0, r1, r2 = rd[0], rd[1], rd[2]
        q_all = b * g
        oq = o // q_all
        out[...] = 0
        for m in range(out.shape[0]):
            for oh in range(out.shape[1]):
                for ow in range(out.shape[2]):
                    for od in range(out.shape[3]):
                        for kh in range(k0):
                            ph = oh * s0 + kh * r0 - l0
                            ih = ph // d0
                            if ph < 0 or ph - ih * d0 != 0 or ih >= h:
                                continue
                            for kw in range(k1):
                                pw = ow * s1 + kw * r1 - l1
                                iw = pw // d1
                                if pw < 0 or pw - iw * d1 != 0 or iw >= w:
                                    continue
                                for kd in range(k2):
                                    pd = od * s2 + kd * r2 - l2
                                    idd = pd // d2
                                    if pd < 0 or pd - idd * d2 != 0 or idd >= d:
                                        continue
                                    for q in range(q_all):
                                        bi, gi = q // g, q % g
                                        src = bi * nb + m
                                        for ci in range(cg):
                                            v = x[src, ih, iw, idd, gi * cg + ci]
                                            for f in range(q * oq, (q + 1) * oq):
                                                out[m, oh, ow, od, f] += v * wt[kh, kw, kd, ci, f]
    return direct


def _three(v, fill):
    v = tuple(int(e) for e in v)
    return np.array(v + (fill,) * (3 - len(v)), np.int64)


class ConvCall:
    """A compiled convolution of fixed shapes and parameters, called by the jit driver."""

    def __init__(self, lhs_aval, rhs_aval, out_aval, params, strategy=None):
        dn = params["dimension_numbers"]
        self.lhs_spec, self.rhs_spec = dn.lhs_spec, dn.rhs_spec
        self.out_perm = tuple(int(i) for i in np.argsort(dn.out_spec))
        x_shape = tuple(lhs_aval.shape[d] for d in dn.lhs_spec)
        w_shape = tuple(rhs_aval.shape[d] for d in dn.rhs_spec)
        nsp = len(x_shape) - 2
        # Channels-last views: x (N, spatial..., C), w (spatial..., Cg, O), unit axes to 3-d.
        self.x_perm = (dn.lhs_spec[0],) + tuple(dn.lhs_spec[2:]) + (dn.lhs_spec[1],)
        self.w_perm = tuple(dn.rhs_spec[2:]) + (dn.rhs_spec[1], dn.rhs_spec[0])
        self.x3 = (x_shape[0],) + x_shape[2:] + (1,) * (3 - nsp) + (x_shape[1],)
        self.w3 = w_shape[2:] + (1,) * (3 - nsp) + (w_shape[1], w_shape[0])
        self.g, self.b = params["feature_group_count"], params["batch_group_count"]
        self.st = _three(params["window_strides"], 1)
        self.lo = _three([lo for lo, _ in params["padding"]], 0)
        self.ld = _three(params["lhs_dilation"], 1)
        self.rd = _three(params["rhs_dilation"], 1)
        self.ks = _three(w_shape[2:], 1)
        canon_out = tuple(out_aval.shape[d] for d in dn.out_spec)
        self.osp = _three(canon_out[2:], 1)
        self.nsp = nsp
        self.canon_out = canon_out
        self.dtype = out_aval.dtype
        q = self.g * self.b
        o, cg = w_shape[:2]
        self.q, self.oq, self.cg = q, o // q, cg
        self.nb = x_shape[0] // self.b
        self.rows = self.nb * math.prod(canon_out[2:])
        self.depth = cg * math.prod(w_shape[2:])
        self.strategy = strategy or "im2col"
        self.per_member = math.prod(canon_out[2:])
        self.padding = tuple(tuple(p) for p in params["padding"])
        self.lhs_dilation = tuple(params["lhs_dilation"])
        self.rhs_dil = tuple(params["rhs_dilation"])
        self.strides = tuple(params["window_strides"])
        self.spans = tuple((k - 1) * d + 1 for k, d in zip(w_shape[2:], self.rhs_dil))
        self.w_sp = w_shape[2:]
        self.cols_view_shape = (self.b, self.g, self.nb) + canon_out[2:] + w_shape[2:] + \
            (cg,)
        row_bytes = self.q * self.depth * np.dtype(self.dtype).itemsize
        self.chunk = max(1, min(self.nb, CHUNK_BYTES // max(1, row_bytes * self.per_member)))
        # The column matrix is reused from call to call (per thread: a compiled function may
        # run in several threads): a fresh multi-megabyte buffer each call costs more in page
        # faults than the copy into it (measured 7 ms against 1.5 ms on the CNN's convs).
        self._local = threading.local()
        # The taps-product strategy's generated kernel, set by the emitter where it applies.
        self.taps_sum = None
        # For a weight gradient: the forward ConvCall whose columns it reads (_share_columns).
        self.columns_of = None

    def _padded(self, x, slot, padding, dilation):
        """x zero-padded and dilated, written into a buffer reused from call to call (per
        thread) whose padding and holes are zeroed once: a fresh padded copy per call paid its
        page faults and zeroing every step. Negative padding (a crop) takes windowed.padded."""
        if all(lo == 0 and hi == 0 for lo, hi in padding) and all(d == 1 for d in dilation):
            return x
        if any(lo < 0 or hi < 0 for lo, hi in padding):
            return padded(x, 0, padding, dilation)
        buf = getattr(self._local, slot, None)
        if buf is None:
            shape = tuple(lo + (n - 1) * d + 1 + hi if n else lo + hi
                          for n, (lo, hi), d in zip(x.shape, padding, dilation))
            buf = np.zeros(shape, self.dtype)
            setattr(self._local, slot, buf)
        buf[tuple(slice(lo, lo + (n - 1) * d + 1, d)
                  for n, (lo, _), d in zip(x.shape, padding, dilation))] = x
        return buf

    def _im2col_product(self, win, wm):
        """(Q, rows, Oq) = columns @ wm, the columns copied from the window view `win`
        ((B, G, Nb, out spatial..., taps..., Cg)) into a buffer reused between calls; in chunks
        of batch members when the whole column matrix would not stay in cache (_chunk)."""
        pm, nb = self.per_member, self.nb
        step = _chunk(nb, self.q * pm * self.depth * np.dtype(self.dtype).itemsize)
        cols = getattr(self._local, "cols", None)
        if cols is None or cols.shape[1] != step * pm:
            cols = self._local.cols = np.empty((self.q, step * pm, self.depth), self.dtype)
        if step == nb:
            np.copyto(cols.reshape(self.cols_view_shape), win)
            self._local.cols_whole = True
            return np.matmul(cols, wm)
        res = np.empty((self.q, self.rows, self.oq), self.dtype)
        for m0 in range(0, nb, step):
            m1 = min(m0 + step, nb)
            part = cols[:, :(m1 - m0) * pm]
            np.copyto(part.reshape(self.cols_view_shape[:2] + (m1 - m0,) +
                                   self.cols_view_shape[3:]), win[:, :, m0:m1])
            np.matmul(part, wm, out=res[:, m0 * pm:m1 * pm])
        return res

    def _from_forward_columns(self, cols, rhs):
        """This weight gradient from the columns its forward convolution copied in this run
        (columns_of): out[c, o, k] = sum over (n, p) of cols[(n, p), (k, c)] * dy[n, p, o],
        one product colsᵀ @ dy and no column copy of its own."""
        nsp = self.nsp
        # rhs is dy: out feature O, in feature N, spatial P -> (N, P..., O) rows.
        dy = rhs.transpose((self.rhs_spec[1],) + tuple(self.rhs_spec[2:]) + (self.rhs_spec[0],))
        res = np.matmul(cols.T, dy.reshape(-1, dy.shape[-1]))       # (K... C, O)
        res = res.reshape(tuple(self.canon_out[2:]) + tuple(self.canon_out[:2]))
        canon = res.transpose((nsp, nsp + 1) + tuple(range(nsp)))      # (C, O, K...)
        return canon.transpose(self.out_perm)

    def _taps_product(self, lhs, rhs):
        """out[n, p, :] = sum over taps k of (x[n, i(p, k), :] @ w[k]): one product of every
        input position with every tap's kernel matrix, y = x (N S, C) @ w (C, taps O), then
        the generated kernel `taps_sum` adds each output's taps from y. No column matrix: y has
        O instead of C features per tap (taps_product_applies)."""
        nsp, c = self.nsp, self.cg
        x = np.ascontiguousarray(lhs.transpose(self.x_perm))         # (N, S..., C)
        taps = math.prod(self.w_sp)
        # (S..., C, O) -> (C, S..., O): each input feature's row holds every tap's outputs.
        w = rhs.transpose(self.w_perm)
        wm = np.ascontiguousarray(np.moveaxis(w, nsp, 0)).reshape(c, taps * self.oq)
        y = getattr(self._local, "taps_y", None)
        if y is None:
            y = self._local.taps_y = np.empty((x.size // c, taps * self.oq), self.dtype)
        np.matmul(x.reshape(-1, c), wm, out=y)
        out = np.empty((self.nb,) + self.canon_out[2:] + (self.oq,), self.dtype)
        self.taps_sum(y.reshape(x.shape[:1 + nsp] + tuple(self.w_sp) + (self.oq,)), out)
        canon = out.transpose((0, 1 + nsp) + tuple(range(1, 1 + nsp)))
        return canon.transpose(self.out_perm)

    def _windows(self, x):
        """(B, G, Nb, out spatial..., taps..., Cg) view of the windows of x (N, S..., C)."""
        nsp, b, g = self.nsp, self.b, self.g
        x = x.reshape(x.shape[:1 + nsp] + x.shape[-1:])      # drop the unit axes again
        xp = self._padded(x, "xp", ((0, 0),) + self.padding + ((0, 0),),
                          (1,) + self.lhs_dilation + (1,))
        v = np.lib.stride_tricks.sliding_window_view(xp, self.spans, axis=tuple(
            range(1, 1 + nsp)))                               # (N, P..., C, spans...)
        v = v[(slice(None),) + tuple(slice(None, None, s) for s in self.strides[:nsp])
              + (slice(None),) + tuple(slice(None, None, d) for d in self.rhs_dil)]
        osp = v.shape[1:1 + nsp]
        v = v.reshape((b, self.nb) + osp + (g, self.cg) + v.shape[2 + nsp:])
        perm = (0, 2 + nsp, 1) + tuple(range(2, 2 + nsp)) + \
            tuple(range(4 + nsp, 4 + 2 * nsp)) + (3 + nsp,)
        return v.transpose(perm)

    def _batch_innermost(self, lhs, rhs):
        """Whether the operands lie in memory with the batch (lhs) and output-feature (rhs)
        dimensions innermost: the weight gradient of a channels-last convolution, whose
        operands are the activations and the cotangent viewed with batch and feature swapped."""
        return self.q == 1 and self.strategy == "im2col" and \
            lhs.strides[self.lhs_spec[0]] <= min(lhs.strides) and \
            rhs.strides[self.rhs_spec[0]] <= min(rhs.strides)

    def _transposed_columns(self, lhs, rhs):
        """out = colsT^T @ wm with colsT[(C, taps), (out spatial, N)] and wm[(C, taps), O].

        For operands with the batch and output feature innermost in memory (_batch_innermost),
        both matrices then read memory in its own order: wm is a view of rhs (no transposing
        copy of the kernel-sized operand, which cost ~0.5 ms on the CNN's weight gradient),
        and the column copy moves runs of (out width x N) contiguous elements."""
        nsp = self.nsp
        x = lhs.transpose((self.lhs_spec[1],) + tuple(self.lhs_spec[2:]) + (self.lhs_spec[0],))
        xp = self._padded(x, "xp_t", ((0, 0),) + self.padding + ((0, 0),),
                          (1,) + self.lhs_dilation + (1,))           # (C, padded spatial..., N)
        p_sp, k_sp = self.canon_out[2:], self.w_sp
        # Window j reads x at p * stride + k * rhs_dilation: windows over the output positions
        # (span (P-1)*stride+1), placed at the kernel taps.
        p_span = tuple((p - 1) * st + 1 for p, st in zip(p_sp, self.strides))
        v = np.lib.stride_tricks.sliding_window_view(xp, p_span, axis=tuple(range(1, 1 + nsp)))
        v = v[(slice(None),) + tuple(slice(None, (k - 1) * d + 1, d) for k, d in
                                     zip(k_sp, self.rhs_dil))
              + (slice(None),) + tuple(slice(None, None, st) for st in self.strides)]
        # (C, taps..., N, P...) -> (C, taps..., P..., N)
        v = v.transpose((0,) + tuple(range(1, 1 + nsp)) + tuple(range(2 + nsp, 2 + 2 * nsp))
                        + (1 + nsp,))
        w = rhs.transpose((self.rhs_spec[1],) + tuple(self.rhs_spec[2:]) + (self.rhs_spec[0],))
        taps = math.prod(k_sp)
        wm = w.reshape(v.shape[0] * taps, -1)
        n_in = v.shape[0]
        step = _chunk(n_in, v[:1].size * v.itemsize)
        cols = getattr(self._local, "cols_t", None)
        if cols is None or len(cols) != step:
            cols = self._local.cols_t = np.empty((step,) + v.shape[1:], self.dtype)
        res = None
        # The contraction runs over (in feature, taps): in chunks of in features, summed.
        for c0 in range(0, n_in, step):
            c1 = min(c0 + step, n_in)
            part = cols[:c1 - c0]
            np.copyto(part, v[c0:c1])
            prod = np.matmul(part.reshape((c1 - c0) * taps, -1).T, wm[c0 * taps:c1 * taps])
            res = prod if res is None else np.add(res, prod, out=res)   # (P... N, O)
        res = res.reshape(tuple(p_sp) + (self.nb, self.canon_out[1]))
        canon = res.transpose((nsp, nsp + 1) + tuple(range(nsp)))           # (N, O, P...)
        return canon.transpose(self.out_perm)

    def __call__(self, lhs, rhs):
        # Whether this call leaves its whole column matrix in self._local.cols (set by
        # _im2col_product): a later weight gradient of the same program reads it.
        self._local.cols_whole = False
        src = self.columns_of
        if src is not None and getattr(src._local, "cols_whole", False):
            return self._from_forward_columns(src._local.cols[0], rhs)
        if self._batch_innermost(lhs, rhs):
            return self._transposed_columns(lhs, rhs)
        if self.taps_sum is not None:
            return self._taps_product(lhs, rhs)
        # One C-level copy when the operand is not channels-last already: the kernels then
        # read contiguous channels (a strided gather in Numba costs far more).
        x = np.ascontiguousarray(lhs.transpose(self.x_perm)).reshape(self.x3)
        w = rhs.transpose(self.w_perm)
        k = _kernels()
        # The result, channels-last: (Nb, spatial..., O); then the output layout's view.
        if self.strategy == "direct":
            out = np.empty((self.nb,) + tuple(self.osp) + (self.oq * self.q,), self.dtype)
            k["direct"](x, np.ascontiguousarray(w).reshape(self.w3), out, self.st, self.lo,
                        self.ld, self.rd, self.b, self.g)
            res = out.reshape((self.nb,) + self.canon_out[2:] + (self.canon_out[1],))
        elif self.strategy == "im2col-numba":
            # Column chunks small enough to stay in cache between the copy and the product.
            cols = getattr(self._local, "cols", None)
            if cols is None:
                cols = self._local.cols = np.empty((self.q, self.chunk * self.per_member,
                                                    self.depth), self.dtype)
            wm = w.reshape(self.depth, self.q, self.oq).transpose(1, 0, 2)
            res = np.empty((self.q, self.rows, self.oq), self.dtype)
            for m0 in range(0, self.nb, self.chunk):
                m1 = min(m0 + self.chunk, self.nb)
                k["im2col"](x, cols, self.st, self.lo, self.ld, self.rd, self.ks, self.osp,
                            self.b, self.g, m0, m1)
                r0, r1 = m0 * self.per_member, m1 * self.per_member
                np.matmul(cols[:, :r1 - r0], wm, out=res[:, r0:r1])
        else:
            # The columns by numpy: a strided window view of the padded operand, copied once
            # (in C) into the reused column buffer; then one matmul per group.
            # Kernel matrix per group: rows (taps, in-feature), columns the group's outputs.
            wm = w.reshape(self.depth, self.q, self.oq).transpose(1, 0, 2)
            res = self._im2col_product(self._windows(x), wm)     # (Q, rows, Oq)
        if self.strategy != "direct":
            # (Q, rows, Oq) -> (Nb, spatial..., O), group-major output features.
            if self.q == 1:
                res = res.reshape((self.nb,) + self.canon_out[2:] + (self.canon_out[1],))
            else:
                res = res.reshape((self.q, self.nb) + self.canon_out[2:] + (self.oq,))
                res = res.transpose((1,) + tuple(range(2, 2 + self.nsp)) + (0, 2 + self.nsp))
                res = res.reshape((self.nb,) + self.canon_out[2:] + (self.canon_out[1],))
        canon = res.transpose((0, 1 + self.nsp) + tuple(range(1, 1 + self.nsp)))
        return canon.transpose(self.out_perm)


# Bytes of column matrix per chunk (fits the L2 cache of common CPUs).
CHUNK_BYTES = 256 * 1024

# The numpy im2col copies the whole column matrix at once unless it exceeds COLUMNS_WHOLE_BYTES;
# then it copies and multiplies chunks of about COLUMNS_CHUNK_BYTES, which the product reads
# back from cache.
COLUMNS_WHOLE_BYTES = 3 << 20
COLUMNS_CHUNK_BYTES = 384 << 10


def _chunk(n, bytes_each):
    """How many of n items (of bytes_each column bytes) to copy and multiply at a time."""
    if n * bytes_each <= COLUMNS_WHOLE_BYTES:
        return n
    return max(1, min(n, COLUMNS_CHUNK_BYTES // max(1, bytes_each)))


def taps_product_applies(call):
    """Whether ConvCall `call` should run as a taps product (ConvCall._taps_product): one
    group, and more input than output features, so that the product's (positions, taps x O)
    result is smaller than im2col's (positions, taps x C) columns, with enough input features
    for BLAS to run well (the input gradient of a layer that widens its features)."""
    return call.q == 1 and call.cg >= 16 and call.oq < call.cg and \
        call.per_member * call.nb * math.prod(call.w_sp) * call.oq > 0


def taps_sum_source(call):
    """`def kernel(y, out)`: out[n, p..., o] = sum over taps k of y[n, i(p, k)..., k..., o],
    where i(p, k) = (p * stride + k * rhs_dilation - pad_lo) / lhs_dilation is the input
    position tap k of output p reads (skipped where it is a hole or padding). Shapes and
    geometry are literals."""
    nsp = call.nsp
    sp_in = call.x3[1:1 + nsp]
    lines = ["def kernel(y, out):", f"    for n in range({call.nb}):"]
    ind = 8
    for a in range(nsp):
        lines.append(" " * ind + f"for p{a} in range({call.osp[a]}):")
        ind += 4
    at_out = ", ".join(["n"] + [f"p{a}" for a in range(nsp)])
    lines.append(" " * ind + f"for o in range({call.oq}):")
    lines.append(" " * ind + f"    out[{at_out}, o] = 0")
    for a in range(nsp):
        st, rd, lo, ld = (int(v[a]) for v in (call.st, call.rd, call.lo, call.ld))
        lines.append(" " * ind + f"for k{a} in range({call.w_sp[a]}):")
        ind += 4
        lines.append(" " * ind + f"t{a} = p{a} * {st} + k{a} * {rd} - {lo}")
        if ld > 1:
            lines.append(" " * ind + f"if t{a} < 0 or t{a} % {ld} != 0:")
            lines.append(" " * ind + "    continue")
            lines.append(" " * ind + f"i{a} = t{a} // {ld}")
            lines.append(" " * ind + f"if i{a} >= {sp_in[a]}:")
        else:
            lines.append(" " * ind + f"i{a} = t{a}")
            lines.append(" " * ind + f"if i{a} < 0 or i{a} >= {sp_in[a]}:")
        lines.append(" " * ind + "    continue")
    at_y = ", ".join(["n"] + [f"i{a}" for a in range(nsp)] + [f"k{a}" for a in range(nsp)])
    lines.append(" " * ind + f"for o in range({call.oq}):")
    lines.append(" " * ind + f"    out[{at_out}, o] += y[{at_y}, o]")
    return "\n".join(lines) + "\n"


def _root_axes(ctx, var, axes):
    """(var, axes) followed back through the program's transposes: the array they view and
    the axes of it that `axes` of var are."""
    while isinstance(var, Var):
        e = ctx.defining_eqn(var)
        if e is None or e.primitive.name != "transpose":
            break
        perm = e.params["permutation"]
        axes = tuple(perm[a] for a in axes)
        var = e.inputs[0]
    return var, axes


def _share_columns(ctx, call, taps):
    """Pair a weight gradient with the forward convolution of the same operand emitted before
    it in the program (whose im2col columns it is a product with), or record a forward one.

    The weight gradient reads the operand x with batch and feature exchanged: its windows span
    the forward's output positions (its rhs_dilation is the forward's stride, its stride the
    forward's rhs_dilation) and its outputs are the forward's taps. Its column matrix is then
    the forward's, transposed: it multiplies those (ConvCall._from_forward_columns). Emitted
    later in the same straight-line driver, it runs after the forward call in every run;
    the forward marks at each call whether its columns are whole in its buffer."""
    if call.q != 1 or any(call.ld != 1):
        return
    lhs = ctx.eqn.inputs[0]
    root, axes = _root_axes(ctx, lhs, tuple(call.lhs_spec))
    nsp = call.nsp
    forwards = ctx.shared.setdefault("conv_columns", [])
    for f_root, f_axes, fwd in forwards:
        if f_root is root and axes[0] == f_axes[1] and axes[1] == f_axes[0] and \
                axes[2:] == f_axes[2:] and fwd.dtype == call.dtype and \
                np.array_equal(call.st[:nsp], fwd.rd[:nsp]) and \
                np.array_equal(call.rd[:nsp], fwd.st[:nsp]) and \
                np.array_equal(call.lo[:nsp], fwd.lo[:nsp]) and \
                tuple(call.w_sp) == tuple(fwd.canon_out[2:]) and \
                tuple(call.canon_out[2:]) == tuple(fwd.w_sp):
            call.columns_of = fwd
            return
    whole = _chunk(call.nb, call.per_member * call.depth * np.dtype(call.dtype).itemsize) == \
        call.nb
    if isinstance(root, Var) and not taps and whole:
        forwards.append((root, axes, call))


def conv_emitter(prim):
    """Driver rule of conv_general_dilated (`prim`): ConvCall where it applies, else the impl."""
    def emit(ctx, args, **params):
        lhs, rhs = ctx.in_avals
        nsp = lhs.ndim - 2
        if nsp > 3 or ctx.out_aval.dtype.kind != "f" or lhs.dtype != ctx.out_aval.dtype or \
                ctx.out_aval.size == 0 or lhs.size == 0 or rhs.size == 0:
            f = ctx.bind_global(_impl_caller(prim.impl, params), "conv")
        else:
            call = ConvCall(lhs, rhs, ctx.out_aval, params)
            taps = taps_product_applies(call)
            _share_columns(ctx, call, taps)
            if taps and call.columns_of is None:
                call.taps_sum = ctx.kernel(taps_sum_source(call))
            f = ctx.bind_global(call, "conv")
        return f"{f}({', '.join(args)})"
    return emit
