//! Agent side of Countersign (work in progress).
