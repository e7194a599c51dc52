//! Notifications: webhooks (Slack-compatible `{"text": …}` or the event as JSON) and/or a command
//! that gets the event as JSON on standard input. Sent for compromise, revoke, a failed rotation,
//! grace periods ending within 7 days and 1 day (once each), and `audit report --notify`.
//! A notification never includes a value; one that fails is reported and does not fail the
//! command that sent it.
//!
//! ```toml
//! [notify]
//! webhooks = ["https://hooks.slack.com/services/…"]
//! format = "slack"            # or "json"
//! command = "logger -t keyward"
//! ```

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

pub use crate::config::NotifySettings as Settings;

/// One notification.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub event: String,
    pub secret: Option<String>,
    pub text: String,
    pub details: Value,
    pub time: String,
}

/// Sends `notice` everywhere the settings say. Returns what failed, for the caller to warn
/// about: a failing hook never fails the command.
pub fn send(settings: &Settings, notice: &Notice) -> Vec<String> {
    let mut problems = Vec::new();
    if settings.is_empty() {
        return problems;
    }
    let event = json!({
        "event": notice.event,
        "secret": notice.secret,
        "text": notice.text,
        "details": notice.details,
        "time": notice.time,
        "actor": crate::host::actor(),
        "source": "keyward",
    });
    if !settings.webhooks.is_empty() {
        let body = match settings.format.as_deref() {
            Some("json") => event.clone(),
            _ => json!({"text": format!("keyward: {}", notice.text)}),
        };
        let client = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("the HTTP client builds with static settings");
        for url in &settings.webhooks {
            let Ok(endpoint) = crate::providers::check::endpoint(url, "") else { continue };
            let host = endpoint.host_str().unwrap_or("?").to_owned();
            match client.post(endpoint).json(&body).send() {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    problems.push(format!("the notification webhook at {host} answered HTTP {}", r.status().as_u16()));
                }
                Err(_) => problems.push(format!("the notification webhook at {host} could not be reached")),
            }
        }
    }
    if let Some(command) = &settings.command {
        let child = Command::new("sh")
            .args(["-c", command])
            .env_remove("KEYWARD_VAULT_KEY")
            .env_remove("KEYWARD_PASSPHRASE_FILE")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn();
        let ok = child.and_then(|mut c| {
            if let Some(mut stdin) = c.stdin.take() {
                let _ = stdin.write_all(event.to_string().as_bytes());
            }
            c.wait()
        });
        match ok {
            Ok(status) if status.success() => {}
            _ => problems.push("the notification command failed".into()),
        }
    }
    problems
}
