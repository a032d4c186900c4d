//! A field-level difference of two JSON documents (two decoded Kubernetes objects): every leaf
//! that differs, named by its JSON Pointer (RFC 6901: `/metadata/labels/app`, array elements by
//! index, `~` and `/` in names escaped as `~0` and `~1`). Objects are compared member by member
//! (members in name order), arrays element by element; a member or element present on one side
//! only is one change with the other side absent.

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
    let mut path = String::new();
    walk(a, b, &mut path, &mut out);
    out
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn walk(a: &Value, b: &Value, path: &mut String, out: &mut FieldDiff) {
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
                    (u, v) => out.push(path, u, v),
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
                    (u, v) => out.push(path, u, v),
                }
                path.truncate(len);
            }
        }
        _ => out.push(path, Some(a), Some(b)),
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
    fn many_changes_are_counted_past_the_limit() {
        let a = Value::Array((0..500).map(Value::from).collect());
        let b = Value::Array((0..500).map(|i| Value::from(i + 1)).collect());
        let d = diff(&a, &b);
        assert_eq!((d.changes.len(), d.total), (MAX_CHANGES, 500));
    }
}
