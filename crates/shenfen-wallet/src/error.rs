use thiserror::Error;

/// Every way a wallet operation can fail. Messages never carry PII.
#[derive(Debug, Error)]
pub enum WalletError {
    /// The wallet PIN does not open the vault (or the vault was altered).
    #[error("the wallet PIN is wrong, or the wallet file was altered")]
    WrongPin,
    /// The wallet PIN breaks a rule.
    #[error("wallet PIN refused: {0}")]
    WeakPin(String),
    /// No wallet where one was expected, or one where none was.
    #[error("{0}")]
    Location(String),
    /// Reading or writing the wallet's files failed.
    #[error("wallet storage: {0}")]
    Io(#[from] std::io::Error),
    /// A stored file is not what this version writes.
    #[error("corrupt wallet file: {0}")]
    Corrupt(String),
    /// The authority could not be reached or answered something unexpected.
    #[error("cannot talk to the authority: {0}")]
    Network(String),
    /// The authority refused, with its RFC 9457 problem type (or OAuth error) and detail.
    #[error("the authority refused ({kind}): {detail}")]
    Refused {
        /// The problem `type` or OAuth `error`.
        kind: String,
        /// What it said.
        detail: String,
    },
    /// No unused credential is left for a presentation.
    #[error("no unused credential left: enroll again to get a new batch")]
    NoCredential,
    /// A credential operation failed.
    #[error(transparent)]
    Credential(#[from] shenfen_credential::CredentialError),
}

impl WalletError {
    /// The stable, documented code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::WrongPin => "wallet.pin.wrong",
            Self::WeakPin(_) => "wallet.pin.weak",
            Self::Location(_) => "wallet.location",
            Self::Io(_) => "wallet.io",
            Self::Corrupt(_) => "wallet.corrupt",
            Self::Network(_) => "wallet.network",
            Self::Refused { .. } => "wallet.refused",
            Self::NoCredential => "wallet.no_credential",
            Self::Credential(e) => e.code(),
        }
    }
}
