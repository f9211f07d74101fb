//! Benchmarks of shenfen live in `benches/` (divan micro-benchmarks) and in the
//! scripts beside them (side-by-side runs against other implementations).
//! This library is empty; it exists so the package can hold them.
