"""The primitives, one module per family, each primitive's rules beside its declaration.

Import order (each module imports only those before it):
  _forward (primitive objects some lower rules bind, defined later by their family),
  _batching, _sparsity_rules, _common, _program_cost (helpers every family's rules share),
  shape, elementwise, reductions, then contraction, bits, sorting, special, fft, windowed,
  indexing, convolution (with _conv_kernels), linalg;
  control_flow and collectives last: their rules run the interpreters in functrans.transforms
  (jvp, vmap, transpose, partial_eval, the sparsity interpreter) and the backend's executables.
"""
