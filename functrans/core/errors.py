"""Errors that say what went wrong, where the value came from, and what to do instead."""


class FunctransError(Exception):
    """Base class of functrans's own errors."""


class ConcretizationTypeError(FunctransError, TypeError):
    """A traced (abstract) value was used where Python needs a concrete one."""


class TracerBoolConversionError(ConcretizationTypeError):
    pass


class TracerIntegerConversionError(ConcretizationTypeError):
    pass


class TracerArrayConversionError(FunctransError, TypeError):
    pass


class UnexpectedTracerError(FunctransError):
    """A tracer was used after the transformation that created it had finished (it leaked)."""


class InPlaceUpdateError(FunctransError, TypeError):
    pass


_FIXES = {
    "bool": "Python control flow on traced values cannot be staged into a program. Use "
            "functrans.lax.cond or functrans.lax.switch for branches, functrans.lax.while_loop or "
            "functrans.lax.fori_loop for loops, fnp.where to select elementwise; or, if the "
            "value does not depend on traced inputs, pass it as a static argument "
            "(static_argnums).",
    "int": "The value is traced, so its integer value is unknown while tracing (for example when "
           "used as a shape, a size, in range(), or as a slice bound). Shapes must be concrete: "
           "pass the value as a static argument (static_argnums) or compute it from x.shape; for "
           "loops with a traced trip count use functrans.lax.fori_loop or while_loop; for a "
           "traced start index use functrans.lax.dynamic_slice.",
    "float": "The value is traced, so Python cannot get a number from it while tracing. Keep "
             "it as an array (do not call float()/item()), or compute it outside the traced "
             "function.",
    "derivative": "The value is being differentiated: a Python number or a numpy array made "
                  "from it would be a constant, and its derivative would silently be lost. Keep "
                  "it as a traced array and use functrans.numpy (fnp) instead of numpy inside "
                  "the function; if the derivative through this value is not wanted, write "
                  "float(functrans.lax.stop_gradient(x)).",
}


def concretization_message(tracer, what: str, kind: str) -> str:
    origin = tracer._origin_str()
    where = f"\nThe value was {origin}." if origin else ""
    return (f"{what} of a traced value {tracer.aval.str_short()} ({type(tracer).__name__})."
            f"{where}\n{_FIXES[kind]}")
