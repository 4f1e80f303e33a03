"""The compile worker's side (backend/compile_worker.py starts it): kernels compiled into the
disk cache on request, in a process of their own."""
import os
import pickle
import sys


def serve():
    """The worker's loop: (cache dir, kernel body, signatures, flags) in, (ok, message) out."""
    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)                  # stray prints must not corrupt the replies
    from .cache import KERNELS        # (Numba: loaded in the worker only)
    while True:
        try:
            cache_dir, body, signatures, flags = pickle.load(requests)
        except EOFError:
            return
        os.environ["FUNCTRANS_CACHE_DIR"] = cache_dir
        try:
            KERNELS.kernel(body, signatures, flags)
            reply = (True, "")
        except Exception as e:   # noqa: BLE001 - reported; the caller compiles in-process
            reply = (False, f"{type(e).__name__}: {e}")
        pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()
