//! Pure analysis helpers: frame geometry and tensor prep (`image`). No GStreamer, ort, tokio or wall clock.

pub mod image;
