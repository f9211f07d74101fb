//! Authority operators: the people at counters and in supervision who act on
//! citizens' records, each with their own credentials and one role.

use std::fmt;

use shenfen_core::OperatorRole;

/// An operator account.
#[derive(Clone, PartialEq, Eq)]
pub struct Operator {
    /// Login name, also the name in audit entries.
    pub username: String,
    /// argon2id PHC string of the password.
    pub password_hash: String,
    /// What the operator may do.
    pub role: OperatorRole,
    /// A disabled operator cannot log in, and their sessions stop working.
    pub disabled: bool,
    /// Seconds since the epoch.
    pub created_at: i64,
}

/// Never prints the password hash.
impl fmt::Debug for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operator")
            .field("username", &self.username)
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}
