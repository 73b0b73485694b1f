//! The Redis token store across processes (filled in below).
