"""Backpropagation on a computational graph, node by node: the classic lecture examples with
their numbers.

A traced program (make_jaxpr) is the computational graph, one equation per node. The forward
pass evaluates the nodes in order and keeps each node's local VJP (its "backward" function);
the backward pass walks the nodes in reverse, sends each node's gradient through its local VJP,
and adds up what arrives at every value. Each node's gradient is then checked by differentiating
the rest of the program with respect to that node's value.

    python examples/computational_graph.py [--quick]
"""
import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # tiny arrays: one BLAS thread is fastest

import numpy as np  # noqa: E402

import functrans as ft  # noqa: E402
import functrans.numpy as fnp  # noqa: E402
from functrans import nn  # noqa: E402
from functrans.core.ir import Literal  # noqa: E402


# --- the graph walker ------------------------------------------------------------------------

def node_names(program):
    """The printer's names (a, b, ..., z, ba, ...): constants, inputs, then outputs in order."""
    letters = "abcdefghijklmnopqrstuvwxyz"

    def name(n):
        s = letters[n % 26]
        while n >= 26:
            n = n // 26
            s = letters[n % 26] + s
        return s
    order = list(program.constvars) + list(program.invars) + \
        [v for eqn in program.eqns for v in eqn.outputs]
    return {v: name(i) for i, v in enumerate(order)}


def evaluate(program, consts, args, replace=None):
    """Run the program by binding each equation's primitive; `replace` maps a node to the value
    it takes instead of being computed (to differentiate the rest of the program w.r.t. it)."""
    replace = replace or {}
    env = dict(zip(program.constvars, consts)) | dict(zip(program.invars, args))
    for eqn in program.eqns:
        outs = eqn.primitive.bind(*[a.value if isinstance(a, Literal) else env[a]
                                    for a in eqn.inputs], **eqn.params)
        outs = outs if eqn.primitive.multiple_results else [outs]
        for v, x in zip(eqn.outputs, outs):
            env[v] = replace.get(v, x)
    return [env[v] for v in program.outvars]


def local_vjp(eqn, env):
    """The node as a function of its variable inputs (literals held fixed), linearized at the
    current values: (output value, backward function)."""
    variables = [a for a in eqn.inputs if not isinstance(a, Literal)]

    def node(*values):
        it = iter(values)
        return eqn.primitive.bind(*[a.value if isinstance(a, Literal) else next(it)
                                    for a in eqn.inputs], **eqn.params)
    return ft.vjp(node, *[env[v] for v in variables]), variables


def backprop(f, *args):
    """Forward and backward pass over f's graph (one scalar output). Returns the program, each
    node's value, and the gradient contributions that reached each node (one per use)."""
    closed = ft.make_jaxpr(f)(*args)
    program = closed.program
    env = dict(zip(program.constvars, closed.consts)) | dict(zip(program.invars, args))
    tape = []
    for eqn in program.eqns:                       # forward: values and local VJPs
        (out, backward), variables = local_vjp(eqn, env)
        outs = out if eqn.primitive.multiple_results else [out]
        env.update(zip(eqn.outputs, outs))
        tape.append((eqn, backward, variables))
    (out_var,) = program.outvars
    contributions = {out_var: [np.ones_like(env[out_var])]}      # df/df = 1
    for eqn, backward, variables in reversed(tape):               # backward: reverse order
        cts = [sum(contributions.get(v, [np.zeros_like(env[v])])) for v in eqn.outputs]
        in_cts = backward(cts if eqn.primitive.multiple_results else cts[0])
        for v, ct in zip(variables, in_cts):
            contributions.setdefault(v, []).append(ct)            # a branch: several uses
    return closed, env, contributions


def graph_report(f, *args, labels=None, log=print):
    """Print f's IR, then every node's value and gradient; return {label or name: (value,
    gradient, [contribution of each use])}. Each gradient is checked against grad of the rest
    of the program."""
    closed, env, contributions = backprop(f, *args)
    program = closed.program
    names = node_names(program)
    labels = labels or {}
    log(closed)
    log(f"  {'node':4s} {'':5s} {'computed as':22s} {'value':>8s} {'df/dnode':>9s}")
    equations = {v: eqn for eqn in program.eqns for v in eqn.outputs}
    result = {}
    for v in list(program.invars) + [v for eqn in program.eqns for v in eqn.outputs]:
        eqn = equations.get(v)
        how = "input" if eqn is None else f"{eqn.primitive.name} " + " ".join(
            f"{a.value.item():g}" if isinstance(a, Literal) else names[a] for a in eqn.inputs)
        terms = contributions.get(v, [np.zeros_like(env[v])])
        gradient = sum(terms)
        # The same number without the walker: the derivative of what comes after the node.
        if eqn is None:
            expected = ft.grad(lambda *a: evaluate(program, closed.consts, a)[0],
                               argnums=program.invars.index(v))(*args)
        else:
            expected = ft.grad(lambda t: evaluate(program, closed.consts, args, {v: t})[0])(env[v])
        np.testing.assert_allclose(gradient, expected, rtol=1e-12, atol=1e-12)
        split = "" if len(terms) < 2 else "  = " + " + ".join(f"{float(t):.2f}" for t in terms)
        label = labels.get(names[v], "")
        log(f"  {names[v]:4s} {label:5s} {how:22s} {float(env[v]):8.2f} {float(gradient):9.2f}"
            f"{split}")
        result[label or names[v]] = (float(env[v]), float(gradient), [float(t) for t in terms])
    return result


# --- the lecture examples ----------------------------------------------------------------------

def simple(x, y, z):
    q = x + y
    return q * z


def neuron_gates(w0, x0, w1, x1, w2):
    """The sigmoid neuron, written gate by gate as in the lecture: 1 / (1 + exp(-(w.x + b)))."""
    return 1.0 / (1.0 + fnp.exp(-(w0 * x0 + w1 * x1 + w2)))


def neuron(w, x):
    """The same neuron with the sigmoid as one gate, on vectors."""
    return nn.sigmoid(fnp.dot(w[:2], x) + w[2])


def gates(x, y, z, w):
    """The lecture's gate-pattern graph: 2 (x y + max(z, w))."""
    return 2.0 * (x * y + fnp.maximum(z, w))


def branching(x, y):
    """x feeds two nodes (add and mul): the gradients flowing back from both add up."""
    q = x + y
    return q * x


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="accepted for symmetry with the other examples (this one is small)")
    parser.parse_args(argv)
    results = {}

    print("== f(x, y, z) = (x + y) z at x = -2, y = 5, z = -4 ==")
    nodes = graph_report(simple, -2.0, 5.0, -4.0,
                         labels={"a": "x", "b": "y", "c": "z", "d": "q", "e": "f"})
    grads = ft.grad(simple, argnums=(0, 1, 2))(-2.0, 5.0, -4.0)
    print(f"grad(f) = {tuple(float(g) for g in grads)}")
    results["simple"] = nodes

    print("\n== the sigmoid neuron, gate by gate, at w = (2, -3, -3), x = (-1, -2) ==")
    w, x = np.array([2.0, -3.0, -3.0]), np.array([-1.0, -2.0])
    nodes = graph_report(neuron_gates, w[0], x[0], w[1], x[1], w[2],
                         labels={"a": "w0", "b": "x0", "c": "w1", "d": "x1", "e": "w2"})
    results["neuron_gates"] = nodes
    out = float(nn.sigmoid(fnp.dot(w[:2], x) + w[2]))
    local = out * (1 - out)
    print(f"grouped into one sigmoid gate: output {out:.2f}, local gradient "
          f"sigma (1 - sigma) = {local:.2f}")
    dw, dx = ft.grad(neuron, argnums=(0, 1))(w, x)
    print(f"vector version: out = {float(neuron(w, x)):.2f}, dw = {np.round(dw, 2)}, "
          f"dx = {np.round(dx, 2)}")
    np.testing.assert_allclose(dw, [nodes[k][1] for k in ("w0", "w1", "w2")], rtol=1e-12)
    np.testing.assert_allclose(dx, [nodes[k][1] for k in ("x0", "x1")], rtol=1e-12)
    results["neuron"] = {"out": float(neuron(w, x)), "dw": np.asarray(dw), "dx": np.asarray(dx)}

    print("\n== gate patterns: f = 2 (x y + max(z, w)) at x = 3, y = -4, z = 2, w = -1 ==")
    nodes = graph_report(gates, 3.0, -4.0, 2.0, -1.0,
                         labels={"a": "x", "b": "y", "c": "z", "d": "w", "e": "xy",
                                 "f": "max", "g": "sum", "h": "f"})
    g = {k: v[1] for k, v in nodes.items()}
    print(f"add distributes: both inputs of the sum get its gradient: "
          f"d/dxy = {g['xy']:.2f}, d/dmax = {g['max']:.2f} (= d/dsum = {g['sum']:.2f})")
    print(f"max routes: the larger input z gets it all: d/dz = {g['z']:.2f}, d/dw = {g['w']:.2f}")
    print(f"mul swaps: each input gets the other one times the gradient: "
          f"d/dx = y * {g['xy']:.0f} = {g['x']:.2f}, d/dy = x * {g['xy']:.0f} = {g['y']:.2f}")
    results["gates"] = nodes

    print("\n== branches add: f = (x + y) x at x = 3, y = -4 ==")
    nodes = graph_report(branching, 3.0, -4.0,
                         labels={"a": "x", "b": "y", "c": "q", "d": "f"})
    via_mul, via_add = nodes["x"][2]
    print(f"x is used twice: through the mul gate (q * df/df = {via_mul:.2f}) and through the add"
          f" gate (df/dq * 1 = {via_add:.2f}): df/dx = {nodes['x'][1]:.2f} = 2x + y")
    results["branching"] = nodes
    return results


if __name__ == "__main__":
    main()
