//! A field-level difference of two JSON documents (two decoded Kubernetes objects): every leaf
//! that differs, named by its JSON Pointer (RFC 6901: `/metadata/labels/app`, array elements by
//! index, `~` and `/` in names escaped as `~0` and `~1`). Objects are compared member by member
//! (members in name order), arrays element by element; a member or element present on one side
//! only is one change with the other side absent.

use crate::k8s::object::{self, DecodeOptions};
use serde_json::Value;

/// Changes listed at most per document pair (the rest are counted).
pub const MAX_CHANGES: usize = 200;

/// One differing field.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FieldChange {
    /// JSON Pointer of the field.
    pub path: String,
    /// Its value in A (absent: not in A).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub a: Option<Value>,
    /// Its value in B (absent: not in B).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b: Option<Value>,
}

/// The differences of two documents: at most [`MAX_CHANGES`] listed, and how many in all.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FieldDiff {
    /// The changes listed, in document order.
    pub changes: Vec<FieldChange>,
    /// All changes, listed or not.
    pub total: u64,
}

impl FieldDiff {
    fn push(&mut self, path: &str, a: Option<&Value>, b: Option<&Value>) {
        self.total += 1;
        if self.changes.len() < MAX_CHANGES {
            self.changes.push(FieldChange { path: path.to_string(), a: a.cloned(), b: b.cloned() });
        }
    }
}

/// The field-level differences between `a` and `b`.
pub fn diff(a: &Value, b: &Value) -> FieldDiff {
    let mut out = FieldDiff::default();
    walk(a, b, &mut String::new(), &mut |p, u, v| out.push(p, u, v));
    out
}

/// The field-level differences of two stored values (key, value), decoded with `o`. Redacted
/// Secret data hides a change that keeps its length (both sides `<redacted: N bytes>`): the
/// values are then compared decoded whole, in memory, and each difference is named by the
/// deepest path the redacted forms hold, with their (redacted) values there. No byte of the
/// unredacted forms comes out, their paths included (a damaged data key is a placeholder too).
pub fn decoded(a: (&[u8], &[u8]), b: (&[u8], &[u8]), o: &DecodeOptions) -> FieldDiff {
    let (shown_a, shown_b) = (object::decode(a.0, a.1, o), object::decode(b.0, b.1, o));
    if o.show_secrets {
        return diff(&shown_a, &shown_b);
    }
    let open = DecodeOptions { show_secrets: true };
    let (open_a, open_b) = (object::decode(a.0, a.1, &open), object::decode(b.0, b.1, &open));
    if open_a == shown_a && open_b == shown_b {
        return diff(&shown_a, &shown_b);
    }
    // Every difference of the open forms (no cap: a hidden one must not push a shown one past
    // the list), each counted once per path the shown forms name.
    let mut out = FieldDiff::default();
    let mut named = std::collections::HashSet::new();
    walk(&open_a, &open_b, &mut String::new(), &mut |path, _, _| {
        let p = shown_path(path, &shown_a, &shown_b);
        if named.insert(p.clone()) {
            out.push(&p, shown_a.pointer(&p), shown_b.pointer(&p));
        }
    });
    out
}

/// The longest leading part of JSON Pointer `path` (whole segments) that `a` or `b` holds.
fn shown_path(path: &str, a: &Value, b: &Value) -> String {
    let mut end = path.len();
    loop {
        let p = &path[..end];
        if a.pointer(p).is_some() || b.pointer(p).is_some() {
            return p.to_string();
        }
        match p.rfind('/') {
            Some(i) => end = i,
            None => return String::new(),
        }
    }
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// What [`walk`] calls with each differing leaf: its path, and the two sides.
type Leaf<'o> = dyn FnMut(&str, Option<&Value>, Option<&Value>) + 'o;

/// Calls `out` with every leaf of `a` and `b` that differs.
fn walk(a: &Value, b: &Value, path: &mut String, out: &mut Leaf<'_>) {
    if a == b {
        return;
    }
    let len = path.len();
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut names: Vec<&String> = x.keys().chain(y.keys()).collect();
            names.sort_unstable();
            names.dedup();
            for n in names {
                path.push('/');
                path.push_str(&escape(n));
                match (x.get(n), y.get(n)) {
                    (Some(u), Some(v)) => walk(u, v, path, out),
                    (u, v) => out(path, u, v),
                }
                path.truncate(len);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                path.push('/');
                path.push_str(&i.to_string());
                match (x.get(i), y.get(i)) {
                    (Some(u), Some(v)) => walk(u, v, path, out),
                    (u, v) => out(path, u, v),
                }
                path.truncate(len);
            }
        }
        _ => out(path, Some(a), Some(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leaves_members_and_elements() {
        let a = json!({"kind":"Pod","metadata":{"name":"p","labels":{"a/b":"1","x":"y"}},"spec":{"c":[1,2,3]}});
        let b = json!({"kind":"Pod","metadata":{"name":"p","labels":{"a/b":"2"},"uid":"u"},"spec":{"c":[1,5]}});
        let d = diff(&a, &b);
        let paths: Vec<&str> = d.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["/metadata/labels/a~1b", "/metadata/labels/x", "/metadata/uid", "/spec/c/1", "/spec/c/2"]);
        assert_eq!(d.total, 5);
        assert_eq!(d.changes[1], FieldChange { path: "/metadata/labels/x".into(), a: Some(json!("y")), b: None });
        assert_eq!(d.changes[3].b, Some(json!(5)));
        assert_eq!(diff(&a, &a), FieldDiff::default());
        let whole = diff(&json!(1), &json!("1"));
        assert_eq!(whole.changes[0].path, "");
    }

    #[test]
    fn a_secret_changed_at_the_same_length_is_listed_redacted() {
        // Both sides redact to `<redacted: 12 bytes>`: `diff --decode` said no field changed.
        let secret =
            |data: &str| format!(r#"{{"kind":"Secret","apiVersion":"v1","metadata":{{"name":"s"}},"data":{data}}}"#);
        let (a, b) = (secret(r#"{"pw":"aHVudGVyMi1vbmU="}"#), secret(r#"{"pw":"aHVudGVyMi10d28="}"#));
        let key: &[u8] = b"/registry/secrets/ns/s";
        let hide = DecodeOptions { show_secrets: false };
        let d = decoded((key, a.as_bytes()), (key, b.as_bytes()), &hide);
        assert_eq!(d.total, 1);
        assert_eq!(d.changes[0].path, "/data/pw");
        assert_eq!(d.changes[0].a, Some(json!("<redacted: 11 bytes>")));
        assert_eq!(d.changes[0].a, d.changes[0].b);
        let show = decoded((key, a.as_bytes()), (key, b.as_bytes()), &DecodeOptions { show_secrets: true });
        assert_eq!(show.changes[0].b, Some(json!("aHVudGVyMi10d28=")));
        // A data key that is no key name (damage) is a placeholder: named by the path above it.
        let (a, b) = (secret(r#"{"hunter2 pw!":"eA=="}"#), secret(r#"{"hunter2 pw!":"eQ=="}"#));
        let d = decoded((key, a.as_bytes()), (key, b.as_bytes()), &hide);
        let text = serde_json::to_string(&d).unwrap();
        assert_eq!((d.total, d.changes[0].path.as_str()), (1, "/data"), "{text}");
        assert!(!text.contains("hunter2") && !text.contains("eA==") && !text.contains("eQ=="), "{text}");
        // More hidden changes than a list holds, and one shown: both named, counted once each.
        let many = |v: &str, app: &str| {
            let data: Vec<String> = (0..250).map(|i| format!(r#""k {i}":"{v}""#)).collect();
            format!(
                r#"{{"kind":"Secret","metadata":{{"name":"s","labels":{{"app":"{app}"}}}},"data":{{{}}}}}"#,
                data.join(",")
            )
        };
        let (a, b) = (many("eA==", "1"), many("eQ==", "2"));
        let d = decoded((key, a.as_bytes()), (key, b.as_bytes()), &hide);
        let paths: Vec<&str> = d.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!((paths, d.total), (vec!["/data", "/metadata/labels/app"], 2));
        // Nothing hidden: the plain diff.
        let cm = |v: &str| format!(r#"{{"kind":"ConfigMap","data":{{"k":"{v}"}}}}"#);
        let c = decoded(
            (b"/registry/configmaps/ns/c", cm("1").as_bytes()),
            (b"/registry/configmaps/ns/c", cm("2").as_bytes()),
            &hide,
        );
        assert_eq!(
            c,
            diff(&json!({"kind":"ConfigMap","data":{"k":"1"}}), &json!({"kind":"ConfigMap","data":{"k":"2"}}))
        );
    }

    #[test]
    fn many_changes_are_counted_past_the_limit() {
        let a = Value::Array((0..500).map(Value::from).collect());
        let b = Value::Array((0..500).map(|i| Value::from(i + 1)).collect());
        let d = diff(&a, &b);
        assert_eq!((d.changes.len(), d.total), (MAX_CHANGES, 500));
    }
}
