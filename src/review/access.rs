//! Who may do what (DESIGN §7). Every page handler and API handler asks
//! [`allowed`] before it reads or changes anything; nothing is granted by
//! being logged in alone.

use crate::store::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Perm {
    /// The queue and held messages, read-only.
    Read,
    /// Release and reject.
    Act,
    /// The audit log.
    Audit,
    /// Users and waivers.
    Admin,
}

pub(crate) fn allowed(role: Role, perm: Perm) -> bool {
    match perm {
        Perm::Read => true,
        Perm::Act => matches!(role, Role::Reviewer | Role::Admin),
        Perm::Audit => matches!(role, Role::Auditor | Role::Admin),
        Perm::Admin => role == Role::Admin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix() {
        let table = [
            (Role::Reviewer, [true, true, false, false]),
            (Role::Auditor, [true, false, true, false]),
            (Role::Admin, [true, true, true, true]),
        ];
        for (role, want) in table {
            let perms = [Perm::Read, Perm::Act, Perm::Audit, Perm::Admin];
            let got = perms.map(|p| allowed(role, p));
            assert_eq!(got, want, "{role:?}");
        }
    }
}
