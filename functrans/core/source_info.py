"""Where in the user's code something happened: the innermost frame outside functrans, for
error messages (a value's origin, an equation's source line) and debug_nans reports."""
import sys
import weakref


def user_frame_summary() -> str:
    """file:line of the innermost frame outside functrans: where a traced value was made."""
    return format_where(_user_frame_location(sys._getframe(2)))


def user_frame_location():
    """(file, line) of the innermost frame outside functrans, or None: the cheap form of
    user_frame_summary for the staging hot path (format it with format_where)."""
    return _user_frame_location(sys._getframe(2))


def format_where(where) -> str:
    return "" if where is None else f"{where[0]}:{where[1]}"


def _user_frame_location(frame):
    library = _library_codes
    while frame is not None:
        code = frame.f_code
        known = library.get(code)
        if known is None:
            if len(library) > 50000:        # code made at run time (exec): keep the map small
                library.clear()
            known = library[code] = _is_library_file(code.co_filename)
        if not known:
            return (code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return None


_LIBRARY_DIR = __file__.rsplit("core", 1)[0]
_library_files = {}
_library_codes = {}     # code object -> in the library? (one dict lookup per frame walked)


def _is_library_file(filename: str) -> bool:
    known = _library_files.get(filename)
    if known is None:
        known = _library_files[filename] = filename.startswith(_LIBRARY_DIR) or \
            filename.startswith("<frozen") or filename.endswith("contextlib.py")
    return known


# file:line of the user code that staged each equation (the staging trace records it).
_EQN_SOURCES = weakref.WeakKeyDictionary()


def record_equation_source(eqn, where):
    _EQN_SOURCES[eqn] = where


def equation_source(eqn) -> str:
    """file:line of the user code that staged `eqn`, or "" if unknown."""
    return format_where(_EQN_SOURCES.get(eqn))
