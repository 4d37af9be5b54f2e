//! The v2 rules endpoint: list, add (with X's duplicate errors) and delete, with `dry_run`.

use std::io;
use std::net::TcpStream;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::http::{Request, respond};
use super::{Rule, Shared, lock};

/// X's `sent` timestamp: RFC 3339 with milliseconds, UTC.
fn sent_now() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    i64::try_from(millis)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_string())
}

fn rule_json(rule: &Rule) -> Value {
    let mut v = json!({"id": rule.id, "value": rule.value});
    if let Some(tag) = &rule.tag {
        v["tag"] = json!(tag);
    }
    v
}

pub(super) fn get(stream: &mut TcpStream, shared: &Shared, req: &Request) -> io::Result<()> {
    let wanted: Option<Vec<&str>> = req
        .query_param("ids")
        .map(|ids| ids.split(',').map(str::trim).collect());
    let rules: Vec<Rule> = lock(&shared.state)
        .rules
        .iter()
        .filter(|r| wanted.as_ref().is_none_or(|w| w.contains(&r.id.as_str())))
        .cloned()
        .collect();
    let mut body = json!({"meta": {"sent": sent_now(), "result_count": rules.len()}});
    if !rules.is_empty() {
        body["data"] = rules.iter().map(rule_json).collect();
    }
    respond(stream, shared, 200, &body)
}

fn invalid_request(message: &str) -> Value {
    json!({
        "errors": [{"message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    })
}

pub(super) fn post(stream: &mut TcpStream, shared: &Shared, req: &Request) -> io::Result<()> {
    let dry_run = match req.query_param("dry_run") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            let body =
                invalid_request("The `dry_run` query parameter value is not one of [true,false]");
            return respond(stream, shared, 400, &body);
        }
    };
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&req.body) else {
        return respond(
            stream,
            shared,
            400,
            &invalid_request("Request body is not a JSON object"),
        );
    };
    let answer = match (body.get("add"), body.get("delete")) {
        (Some(add), None) => add_rules(shared, add, dry_run),
        (None, Some(delete)) => delete_rules(shared, delete, dry_run),
        _ => Err("Request body must contain exactly one of `add` or `delete`"),
    };
    match answer {
        Ok(body) => respond(stream, shared, 200, &body),
        Err(message) => respond(stream, shared, 400, &invalid_request(message)),
    }
}

fn add_rules(shared: &Shared, add: &Value, dry_run: bool) -> Result<Value, &'static str> {
    let items = add.as_array().ok_or("`add` must be an array")?;
    let mut wanted = Vec::with_capacity(items.len());
    for item in items {
        let value = item
            .get("value")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or("every rule needs a non-empty string `value`")?;
        let tag = match item.get("tag") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(_) => return Err("a rule's `tag` must be a string"),
        };
        wanted.push((value.to_string(), tag));
    }

    let mut state = lock(&shared.state);
    // Work on copies so a dry run can validate exactly like a real run without changing state.
    let mut rules = state.rules.clone();
    let mut next_id = state.next_rule_id;
    let mut created = Vec::new();
    let mut errors = Vec::new();
    for (value, tag) in wanted {
        if let Some(existing) = rules.iter().find(|r| r.value == value) {
            errors.push(json!({
                "value": value,
                "id": existing.id,
                "title": "DuplicateRule",
                "type": "https://api.twitter.com/2/problems/duplicate-rules",
            }));
            continue;
        }
        let rule = Rule {
            id: next_id.to_string(),
            value,
            tag,
        };
        next_id += 1;
        rules.push(rule.clone());
        created.push(rule);
    }
    if !dry_run {
        state.rules = rules;
        state.next_rule_id = next_id;
    }
    drop(state);

    let mut body = json!({
        "meta": {
            "sent": sent_now(),
            "summary": {
                "created": created.len(),
                "not_created": errors.len(),
                "valid": created.len(),
                "invalid": errors.len(),
            },
        },
    });
    if !created.is_empty() {
        body["data"] = created.iter().map(rule_json).collect();
    }
    if !errors.is_empty() {
        body["errors"] = Value::Array(errors);
    }
    Ok(body)
}

fn delete_rules(shared: &Shared, delete: &Value, dry_run: bool) -> Result<Value, &'static str> {
    let strings = |key: &str| -> Result<Vec<String>, &'static str> {
        match delete.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err("`delete` entries must be strings"),
                })
                .collect(),
            Some(_) => Err("`delete.ids` / `delete.values` must be arrays"),
        }
    };
    if !delete.is_object() {
        return Err("`delete` must be an object");
    }
    let ids = strings("ids")?;
    let values = strings("values")?;
    if ids.is_empty() && values.is_empty() {
        return Err("`delete` needs non-empty `ids` or `values`");
    }

    let mut state = lock(&shared.state);
    let mut deleted = 0usize;
    let mut not_deleted = 0usize;
    let mut rules = state.rules.clone();
    for (key, by_id) in ids
        .iter()
        .map(|i| (i, true))
        .chain(values.iter().map(|v| (v, false)))
    {
        match rules
            .iter()
            .position(|r| if by_id { &r.id == key } else { &r.value == key })
        {
            Some(pos) => {
                rules.remove(pos);
                deleted += 1;
            }
            None => not_deleted += 1,
        }
    }
    if !dry_run {
        state.rules = rules;
    }
    drop(state);
    Ok(json!({
        "meta": {
            "sent": sent_now(),
            "summary": {"deleted": deleted, "not_deleted": not_deleted},
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::super::client::*;
    use super::super::*;

    fn post_json(mock: &MockX, target: &str, body: &str) -> Response {
        request(
            mock,
            "POST",
            target,
            &[BEARER, ("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }

    #[test]
    fn rules_get_add_duplicate_delete() {
        let mock = v2();
        let resp = request(&mock, "GET", V2_RULES, &[BEARER], b"");
        assert_eq!(resp.status, 200);
        let body = resp.json();
        assert!(body.get("data").is_none(), "X omits data without rules");
        assert_eq!(body["meta"]["result_count"], 0);
        assert!(
            body["meta"]["sent"]
                .as_str()
                .is_some_and(|s| s.ends_with('Z'))
        );

        let resp = post_json(
            &mock,
            V2_RULES,
            r#"{"add":[{"value":"cat has:images","tag":"cats"},{"value":"dog"}]}"#,
        );
        assert_eq!(resp.status, 200);
        let body = resp.json();
        assert_eq!(
            body["meta"]["summary"],
            json!({"created":2,"not_created":0,"valid":2,"invalid":0})
        );
        let data = body["data"].as_array().unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data[0]["value"], "cat has:images");
        assert_eq!(data[0]["tag"], "cats");
        assert!(data[1].get("tag").is_none());
        let cat_id = data[0]["id"].as_str().unwrap().to_string();
        let dog_id = data[1]["id"].as_str().unwrap().to_string();
        assert!(cat_id.parse::<u64>().is_ok());
        assert_ne!(cat_id, dog_id);
        assert_eq!(
            mock.rules(),
            vec![
                Rule {
                    id: cat_id.clone(),
                    value: s("cat has:images"),
                    tag: Some(s("cats"))
                },
                Rule {
                    id: dog_id.clone(),
                    value: s("dog"),
                    tag: None
                },
            ]
        );

        let body = request(&mock, "GET", V2_RULES, &[BEARER], b"").json();
        assert_eq!(body["meta"]["result_count"], 2);
        assert_eq!(body["data"][1], json!({"id": dog_id, "value": "dog"}));
        let body = request(
            &mock,
            "GET",
            &format!("{V2_RULES}?ids={dog_id}"),
            &[BEARER],
            b"",
        )
        .json();
        assert_eq!(body["meta"]["result_count"], 1);

        // Duplicate value: not created, reported with the existing id.
        let body = post_json(
            &mock,
            V2_RULES,
            r#"{"add":[{"value":"dog"},{"value":"bird"}]}"#,
        )
        .json();
        assert_eq!(
            body["meta"]["summary"],
            json!({"created":1,"not_created":1,"valid":1,"invalid":1})
        );
        assert_eq!(body["data"][0]["value"], "bird");
        assert_eq!(
            body["errors"],
            json!([{
                "value": "dog",
                "id": dog_id,
                "title": "DuplicateRule",
                "type": "https://api.twitter.com/2/problems/duplicate-rules",
            }])
        );
        assert_eq!(mock.rules().len(), 3);

        // Dry runs validate but change nothing.
        let body = post_json(
            &mock,
            &format!("{V2_RULES}?dry_run=true"),
            r#"{"add":[{"value":"fish"}]}"#,
        )
        .json();
        assert_eq!(body["meta"]["summary"]["created"], 1);
        let body = post_json(
            &mock,
            &format!("{V2_RULES}?dry_run=true"),
            &format!(r#"{{"delete":{{"ids":["{cat_id}"]}}}}"#),
        )
        .json();
        assert_eq!(
            body["meta"]["summary"],
            json!({"deleted":1,"not_deleted":0})
        );
        assert_eq!(mock.rules().len(), 3);

        // Delete one known id and one unknown.
        let body = post_json(
            &mock,
            V2_RULES,
            &format!(r#"{{"delete":{{"ids":["{cat_id}","42"]}}}}"#),
        )
        .json();
        assert_eq!(
            body["meta"]["summary"],
            json!({"deleted":1,"not_deleted":1})
        );
        assert!(body.get("data").is_none());
        let values: Vec<String> = mock.rules().into_iter().map(|r| r.value).collect();
        assert_eq!(values, vec![s("dog"), s("bird")]);

        // Malformed bodies.
        for bad in [
            "{not json",
            "[]",
            "{}",
            r#"{"add":{}}"#,
            r#"{"add":[{"tag":"x"}]}"#,
        ] {
            let resp = post_json(&mock, V2_RULES, bad);
            assert_eq!(resp.status, 400, "body {bad}");
            assert_eq!(resp.json()["title"], "Invalid Request");
        }
        assert_eq!(mock.rules().len(), 2);
    }

    #[test]
    fn set_rules_ids_do_not_collide_with_new_ones() {
        let mock = v2();
        mock.set_rules(vec![Rule {
            id: FIRST_RULE_ID.to_string(),
            value: s("preset"),
            tag: None,
        }]);
        let body = post_json(&mock, V2_RULES, r#"{"add":[{"value":"new"}]}"#).json();
        assert_ne!(body["data"][0]["id"], FIRST_RULE_ID.to_string());
        assert_eq!(mock.rules().len(), 2);
    }
}
