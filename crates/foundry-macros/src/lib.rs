//! RustForge derive macros.
