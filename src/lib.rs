//! TODO umbrella
