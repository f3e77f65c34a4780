//! Window operator tests (filled below).
