//! Emulator integration tests (filled by the emulator work).
