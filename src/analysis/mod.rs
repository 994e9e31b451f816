//! Pure analysis helpers: frame geometry and tensor prep (`image`), audio features (`audio`), speech segmentation
//! (`speech`) and the sampling policy (`sampling`). No GStreamer, ort, tokio or wall clock.

pub mod audio;
pub mod image;
pub mod sampling;
pub mod speech;
