//! The `flowc` command line.
