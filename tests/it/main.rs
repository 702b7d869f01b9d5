//! synlink's one integration-test binary: one module per feature.

mod emulator;
