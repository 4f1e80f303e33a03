"""The library version (its own module: the kernel cache and the calibration key read it, and
importing the package from inside it would import everything)."""
__version__ = "0.1.0"
