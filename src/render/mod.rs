//! Everything a person sees: diagnostics, summaries, graphs, plans and progress.
//! Only this module (and `main`) writes to the terminal.

pub mod diagnostic;
