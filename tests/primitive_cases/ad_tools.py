"""Cases for the primitives of the AD and debugging tools: checkpoint_name (an identity that
tags a value for checkpoint policies) and debug_callback (no outputs; its callback records the
values it is called with, which tests/test_debug.py checks in detail)."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from . import Case

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


@st.composite
def _checkpoint_name(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    x = draw(hnp.arrays(dtype, shapes, elements=st.floats(-3, 3, width=32)))
    name = draw(st.sampled_from(["h", "layer1", "attn"]))
    return Case((x,), dict(name=name), reference=lambda x, name: np.array(x))


SEEN = []


def _record(*values):
    SEEN.append(values)


@st.composite
def _debug_callback(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int32]))
    x = draw(hnp.arrays(dtype, shapes, elements=st.integers(-3, 3)))
    return Case((x, 2.0), dict(callback=_record, label="record"),
                reference=lambda x, y, callback, label: [])


STRATEGIES = {"checkpoint_name": _checkpoint_name(), "debug_callback": _debug_callback()}
