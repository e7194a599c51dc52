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

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::output::Output;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub webhooks: Vec<String>,
    /// `slack` (default) or `json`.
    pub format: Option<String>,
    pub command: Option<String>,
}

impl Settings {
    pub fn is_empty(&self) -> bool {
        self.webhooks.is_empty() && self.command.is_none()
    }

    /// Checks the URLs and the format when the config is loaded.
    pub fn check(&self) -> Result<(), String> {
        for url in &self.webhooks {
            crate::providers::check::endpoint(url, "")?;
        }
        match self.format.as_deref() {
            None | Some("slack") | Some("json") => Ok(()),
            Some(other) => Err(format!("format {other:?}: expected \"slack\" or \"json\"")),
        }
    }
}

/// One notification.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub event: String,
    pub secret: Option<String>,
    pub text: String,
    pub details: Value,
    pub time: String,
}

/// Sends `notice` everywhere the settings say; failures become warnings.
pub fn send(settings: &Settings, notice: &Notice, out: &Output) {
    if settings.is_empty() {
        return;
    }
    let event = json!({
        "event": notice.event,
        "secret": notice.secret,
        "text": notice.text,
        "details": notice.details,
        "time": notice.time,
        "actor": crate::audit::actor(),
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
                Ok(r) => out.warn(&format!("the notification webhook at {host} answered HTTP {}", r.status().as_u16())),
                Err(_) => out.warn(&format!("the notification webhook at {host} could not be reached")),
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
            _ => out.warn("the notification command failed"),
        }
    }
}
