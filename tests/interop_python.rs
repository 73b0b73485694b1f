//! interop_python
