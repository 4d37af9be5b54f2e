//! The v2 filtered stream's rules, kept equal to `--track` (issue 4): one rule per tracked term,
//! tagged so that a later run can tell its own rules from anyone else's. A term's spaces mean AND
//! and the terms OR, as in v1.1's `track`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::credentials::Secret;
use super::error::{StreamError, detail};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// What syncing changes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RulePlan {
    /// Values to add, tagged with ours.
    pub add: Vec<String>,
    /// Our rules that `--track` no longer asks for.
    pub delete: Vec<Rule>,
    /// Rules with other tags: they stay, and their tweets arrive on the stream too.
    pub foreign: Vec<Rule>,
}

impl RulePlan {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.delete.is_empty()
    }
}

/// The rule values `--track` asks for: trimmed, without empties and repeats, in order.
pub fn wanted(track: &[String]) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for term in track.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        if !values.iter().any(|v| v == term) {
            values.push(term.to_owned());
        }
    }
    values
}

/// Adds what is missing, deletes our stale rules, leaves everyone else's alone. A wanted value that
/// exists under another tag is not added again (X refuses duplicate values).
pub fn plan(existing: &[Rule], track: &[String], tag: &str) -> RulePlan {
    let wanted = wanted(track);
    let ours = |r: &Rule| r.tag.as_deref() == Some(tag);
    RulePlan {
        add: wanted
            .iter()
            .filter(|w| !existing.iter().any(|r| &r.value == *w))
            .cloned()
            .collect(),
        delete: existing
            .iter()
            .filter(|r| ours(r) && !wanted.contains(&r.value))
            .cloned()
            .collect(),
        foreign: existing
            .iter()
            .filter(|r| !ours(r) && !wanted.contains(&r.value))
            .cloned()
            .collect(),
    }
}

#[derive(Deserialize)]
struct RulesPage {
    #[serde(default)]
    data: Vec<Rule>,
}

#[derive(Deserialize)]
struct Changed {
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

/// `GET`/`POST /2/tweets/search/stream/rules` on one API base.
pub struct RulesApi<'a> {
    pub client: &'a reqwest::Client,
    pub url: reqwest::Url,
    pub bearer: &'a Secret,
}

impl RulesApi<'_> {
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<String, StreamError> {
        let response = request
            .bearer_auth(self.bearer.expose())
            .send()
            .await
            .map_err(|e| StreamError::request(&self.url, e))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| StreamError::request(&self.url, e))?;
        match status {
            200..=299 => Ok(body),
            401 | 403 => Err(StreamError::unauthorized(
                status,
                super::credentials::BEARER_TOKEN,
                &body,
            )),
            _ => Err(StreamError::RulesStatus {
                url: self.url.to_string(),
                status,
                detail: detail(&body),
            }),
        }
    }

    pub async fn list(&self) -> Result<Vec<Rule>, StreamError> {
        let body = self.send(self.client.get(self.url.clone())).await?;
        let page: RulesPage = serde_json::from_str(&body)
            .map_err(|e| StreamError::Rules(format!("unexpected rules listing: {e}")))?;
        Ok(page.data)
    }

    async fn change(&self, body: serde_json::Value) -> Result<(), StreamError> {
        let answer = self
            .send(self.client.post(self.url.clone()).json(&body))
            .await?;
        let changed: Changed = serde_json::from_str(&answer)
            .map_err(|e| StreamError::Rules(format!("unexpected answer to a rules change: {e}")))?;
        if changed.errors.is_empty() {
            Ok(())
        } else {
            Err(StreamError::Rules(format!(
                "X refused the change {body}: {}",
                serde_json::Value::Array(changed.errors)
            )))
        }
    }

    /// Makes the rules what `track` asks for; with `dry_run`, only says what that would change.
    pub async fn sync(
        &self,
        track: &[String],
        tag: &str,
        dry_run: bool,
    ) -> Result<RulePlan, StreamError> {
        let existing = self.list().await?;
        let plan = plan(&existing, track, tag);
        for value in &plan.add {
            tracing::info!(%value, tag, dry_run, "rule to add");
        }
        for rule in &plan.delete {
            tracing::info!(value = %rule.value, id = ?rule.id, dry_run, "stale rule to delete");
        }
        if !plan.foreign.is_empty() {
            tracing::warn!(
                count = plan.foreign.len(),
                "the stream also delivers tweets of rules with other tags; they are left alone"
            );
        }
        if dry_run || plan.is_empty() {
            return Ok(plan);
        }
        if !plan.delete.is_empty() {
            let ids: Vec<&str> = plan.delete.iter().filter_map(|r| r.id.as_deref()).collect();
            self.change(json!({ "delete": { "ids": ids } })).await?;
        }
        if !plan.add.is_empty() {
            let add: Vec<Rule> = plan
                .add
                .iter()
                .map(|value| Rule {
                    id: None,
                    value: value.clone(),
                    tag: Some(tag.to_owned()),
                })
                .collect();
            self.change(json!({ "add": add })).await?;
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, value: &str, tag: Option<&str>) -> Rule {
        Rule {
            id: Some(id.to_owned()),
            value: value.to_owned(),
            tag: tag.map(str::to_owned),
        }
    }

    #[test]
    fn adds_missing_deletes_our_stale_and_keeps_foreign() {
        let existing = [
            rule("1", "rust", Some("tweetflow")),
            rule("2", "kafka", Some("tweetflow")),
            rule("3", "cats", Some("someone")),
            rule("4", "timely", None),
        ];
        let track = ["rust", " timely ", "flink streaming", "", "rust"].map(String::from);
        let plan = plan(&existing, &track, "tweetflow");
        assert_eq!(plan.add, ["flink streaming"], "timely exists untagged");
        assert_eq!(plan.delete, [existing[1].clone()]);
        assert_eq!(plan.foreign, [existing[2].clone()]);
    }

    #[test]
    fn nothing_to_do_when_in_sync() {
        let existing = [rule("1", "rust", Some("t"))];
        assert!(plan(&existing, &["rust".to_owned()], "t").is_empty());
    }
}
