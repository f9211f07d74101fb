//! One line per failure, led by the error's stable code, for every domain error.

use shenfen_core::CoreError;
use shenfen_credential::CredentialError;
use shenfen_face::FaceError;
use shenfen_server::{BuildError, CounterError, RegistrationError};
use shenfen_store::StoreError;
use shenfen_verifier::VerifierError;
use shenfen_wallet::WalletError;

/// A domain error with a stable code (docs/ERRORS.md).
pub(crate) trait Coded: std::fmt::Display {
    /// The stable code.
    fn code(&self) -> &'static str;
}

macro_rules! coded_errors {
    ($($error:ty),*) => {$(
        impl Coded for $error {
            fn code(&self) -> &'static str {
                <$error>::code(self)
            }
        }
    )*};
}

coded_errors!(
    BuildError,
    CoreError,
    CounterError,
    CredentialError,
    FaceError,
    RegistrationError,
    StoreError,
    VerifierError,
    WalletError
);

/// `[code] message`, for scripts and support desks.
pub(crate) fn coded(err: impl Coded) -> anyhow::Error {
    anyhow::anyhow!("[{}] {err}", err.code())
}
