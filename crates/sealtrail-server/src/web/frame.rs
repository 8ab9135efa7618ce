//! The frame every page is drawn in: who is signed in, which navigation links they may see,
//! and the CSRF token the page's forms carry. Its own module because both the pages and the
//! error pages draw it.

/// The page frame every template extends: who is signed in, and the CSRF token its forms carry.
#[derive(Debug, Clone, Default)]
pub struct PageFrame {
    /// Window title.
    pub title: String,
    /// Signed-in user's display name; empty when nobody is signed in.
    pub user_name: String,
    /// Signed-in user's e-mail.
    pub user_email: String,
    /// Signed-in user's role.
    pub role: String,
    /// The tenant (workspace) name.
    pub tenant: String,
    /// Token for the forms of this page.
    pub csrf: String,
    /// Show the Audit log link.
    pub can_view_log: bool,
    /// Show the Settings link.
    pub can_manage: bool,
    /// Which navigation item is current (`audit`, `settings`, `account`).
    pub current: &'static str,
}

impl PageFrame {
    /// The frame of a page seen without signing in (sign-in, errors).
    pub fn anonymous(title: &str) -> Self {
        PageFrame {
            title: title.to_string(),
            ..PageFrame::default()
        }
    }

    /// True when a user is signed in (the header shows their name and a sign-out button).
    pub fn signed_in(&self) -> bool {
        !self.user_email.is_empty()
    }
}
