//! Which Kubernetes resource an etcd key belongs to, and grouping keys by path prefix.
//!
//! The apiserver stores an object at `<prefix><resource path>/[<namespace>/]<name>`. Facts
//! (Kubernetes source): the default prefix is `/registry`; `SpecialDefaultResourcePrefixes` in
//! pkg/kubeapiserver/default_storage_factory_builder.go gives the resource paths that differ
//! from the plural name: services → `services/specs`, endpoints → `services/endpoints`, nodes →
//! `minions`, replicationcontrollers → `controllers`, ingresses → `ingress`,
//! podsecuritypolicies → `podsecuritypolicy`; resources of the apiextensions and
//! apiregistration groups, and every custom resource, live under `<group>/<plural>`.
//! OpenShift 3 also used `/kubernetes.io/` and `/openshift.io/`.
//!
//! The rule of [`parse`], after one of [`PREFIXES`]:
//! 1. `services/specs/…` → `services`; `services/endpoints/…` → `endpoints`;
//! 2. a first segment containing a dot is an API group: `<group>/<plural>/…` →
//!    `<plural>.<group>` (a group with no plural segment after it stays as it is);
//! 3. otherwise the first segment, with the legacy names mapped: `minions` → `nodes`,
//!    `controllers` → `replicationcontrollers`, `ingress` → `ingresses`,
//!    `podsecuritypolicy` → `podsecuritypolicies`.
//!
//! What follows the resource path, split on `/`:
//! - nothing (the key ends at the resource, with or without a trailing `/`): no namespace, empty
//!   name;
//! - one segment: cluster-scoped, that segment is the name;
//! - two segments: namespace and name;
//! - three or more: the first segment is the namespace and the rest, slashes included, is the
//!   name (Kubernetes names cannot contain `/`, so such keys were not written by the apiserver;
//!   nothing is dropped).
//!
//! A trailing `/` makes an empty last segment (`/registry/pods/ns/` → namespace `ns`, name
//! ``). Keys outside the prefixes, or with an empty first segment (`/registry/`,
//! `/registry//x`), give `None`: the caller's `(other)` group.
//!
//! Everything works on bytes; the resource is made of the key's bytes converted lossily to
//! UTF-8 (resource names are ASCII in practice), namespace and name stay bytes.

use std::borrow::Cow;

/// Key prefixes under which Kubernetes objects live.
pub const PREFIXES: [&[u8]; 3] = [b"/registry/", b"/kubernetes.io/", b"/openshift.io/"];

/// The parts of a Kubernetes key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyParts<'a> {
    /// The prefix matched, e.g. `/registry/`.
    pub prefix: &'a [u8],
    /// The resource, e.g. `pods`, `endpoints`, `certificates.cert-manager.io`.
    pub resource: String,
    /// The namespace, for namespaced keys.
    pub namespace: Option<&'a [u8]>,
    /// The object name (may be empty, see the module docs).
    pub name: &'a [u8],
}

impl KeyParts<'_> {
    /// The namespace for display (lossy UTF-8).
    pub fn namespace_lossy(&self) -> Option<Cow<'_, str>> {
        self.namespace.map(String::from_utf8_lossy)
    }

    /// The name for display (lossy UTF-8).
    pub fn name_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.name)
    }
}

/// Splits a key into prefix, resource, namespace and name; `None` outside the prefixes.
pub fn parse(key: &[u8]) -> Option<KeyParts<'_>> {
    let p = split(key)?;
    let resource: Cow<'_, str> = match (p.first, p.second) {
        (b"services", Some(b"specs")) => "services".into(),
        (b"services", Some(b"endpoints")) => "endpoints".into(),
        (group, Some(plural)) => format!("{}.{}", lossy(plural), lossy(group)).into(),
        (b"minions", None) => "nodes".into(),
        (b"controllers", None) => "replicationcontrollers".into(),
        (b"ingress", None) => "ingresses".into(),
        (b"podsecuritypolicy", None) => "podsecuritypolicies".into(),
        (first, None) => lossy(first),
    };
    let (namespace, name) = match p.tail {
        None | Some(b"") => (None, &b""[..]),
        Some(t) => match split1(t) {
            (name, None) => (None, name),
            (ns, Some(name)) => (Some(ns), name),
        },
    };
    Some(KeyParts { prefix: p.prefix, resource: resource.into_owned(), namespace, name })
}

/// The key up to the end of its resource path (`/registry/pods`, `/registry/services/specs`,
/// `/registry/cert-manager.io/certificates`), without allocating: keys with the same resource
/// path have the same resource, which [`parse`] of the path gives. `None` where [`parse`] gives
/// `None`.
pub fn resource_path(key: &[u8]) -> Option<&[u8]> {
    Some(split(key)?.path)
}

/// A key cut at the end of its resource path: the segment after the prefix, the one after it
/// when it belongs to the resource (`services/specs|endpoints`, `<group>/<plural>`), the path,
/// and what follows.
struct Split<'a> {
    prefix: &'a [u8],
    first: &'a [u8],
    second: Option<&'a [u8]>,
    path: &'a [u8],
    tail: Option<&'a [u8]>,
}

fn split(key: &[u8]) -> Option<Split<'_>> {
    let (prefix, rest) = PREFIXES.iter().find_map(|p| Some((*p, key.strip_prefix(*p)?)))?;
    let (first, after) = split1(rest);
    if first.is_empty() {
        return None;
    }
    let (second, tail) = if first == b"services" {
        match after.map(split1) {
            Some((s @ (b"specs" | b"endpoints"), t)) => (Some(s), t),
            _ => (None, after),
        }
    } else if first.contains(&b'.') {
        match after.map(split1) {
            Some((plural, t)) if !plural.is_empty() => (Some(plural), t),
            _ => (None, None),
        }
    } else {
        (None, after)
    };
    let len = prefix.len() + first.len() + second.map_or(0, |s| 1 + s.len());
    Some(Split { prefix, first, second, path: key.get(..len)?, tail })
}

/// The key up to the end of its `depth`-th path segment, for `--by prefix:N`. Segments are
/// split on `/`; a leading `/` belongs to the first segment, so depth 1 of `/registry/pods/x`
/// is `/registry` and depth 2 is `/registry/pods`. A key with fewer segments is its own group;
/// depth 0 puts every key in the empty group.
pub fn prefix_group(key: &[u8], depth: usize) -> &[u8] {
    if depth == 0 {
        return &[];
    }
    let start = usize::from(key.first() == Some(&b'/'));
    let mut seen = 0;
    for (i, &c) in key.iter().enumerate().skip(start) {
        if c == b'/' {
            seen += 1;
            if seen == depth {
                return key.get(..i).unwrap_or(key);
            }
        }
    }
    key
}

fn split1(b: &[u8]) -> (&[u8], Option<&[u8]>) {
    match b.iter().position(|&c| c == b'/') {
        Some(i) => (b.get(..i).unwrap_or(b), b.get(i + 1..)),
        None => (b, None),
    }
}

fn lossy(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(key: &[u8]) -> Option<(String, Option<Vec<u8>>, Vec<u8>)> {
        parse(key).map(|k| (k.resource, k.namespace.map(<[u8]>::to_vec), k.name.to_vec()))
    }

    fn ns(r: &str, ns: &str, name: &str) -> Option<(String, Option<Vec<u8>>, Vec<u8>)> {
        Some((r.into(), Some(ns.as_bytes().to_vec()), name.as_bytes().to_vec()))
    }

    fn cl(r: &str, name: &str) -> Option<(String, Option<Vec<u8>>, Vec<u8>)> {
        Some((r.into(), None, name.as_bytes().to_vec()))
    }

    #[test]
    fn resource_rules() {
        assert_eq!(p(b"/registry/pods/default/web-1"), ns("pods", "default", "web-1"));
        assert_eq!(p(b"/registry/services/specs/default/kubernetes"), ns("services", "default", "kubernetes"));
        assert_eq!(p(b"/registry/services/endpoints/default/kubernetes"), ns("endpoints", "default", "kubernetes"));
        assert_eq!(p(b"/registry/minions/node-1"), cl("nodes", "node-1"));
        assert_eq!(p(b"/registry/controllers/ns/rc"), ns("replicationcontrollers", "ns", "rc"));
        assert_eq!(p(b"/registry/ingress/ns/web"), ns("ingresses", "ns", "web"));
        assert_eq!(p(b"/registry/podsecuritypolicy/restricted"), cl("podsecuritypolicies", "restricted"));
        assert_eq!(p(b"/registry/cert-manager.io/certificates/ns/x"), ns("certificates.cert-manager.io", "ns", "x"));
        assert_eq!(
            p(b"/registry/apiextensions.k8s.io/customresourcedefinitions/foo"),
            cl("customresourcedefinitions.apiextensions.k8s.io", "foo")
        );
        assert_eq!(
            p(b"/registry/apiregistration.k8s.io/apiservices/v1.apps"),
            cl("apiservices.apiregistration.k8s.io", "v1.apps")
        );
        assert_eq!(p(b"/kubernetes.io/pods/ns/a"), ns("pods", "ns", "a"));
        assert_eq!(p(b"/openshift.io/routes/ns/r"), ns("routes", "ns", "r"));
        assert_eq!(parse(b"/openshift.io/routes/ns/r").unwrap().prefix, b"/openshift.io/");
        assert_eq!(p(b"/registry/ranges/serviceips"), cl("ranges", "serviceips"));
        assert_eq!(p(b"/registry/masterleases/10.0.0.1"), cl("masterleases", "10.0.0.1"));
    }

    #[test]
    fn odd_keys() {
        assert_eq!(p(b""), None);
        assert_eq!(p(b"compact_rev_key"), None);
        assert_eq!(p(b"/registry"), None);
        assert_eq!(p(b"/registry/"), None);
        assert_eq!(p(b"/registry//x"), None);
        assert_eq!(p(b"/other/pods/a"), None);
        assert_eq!(p(b"/registry/pods"), cl("pods", ""));
        assert_eq!(p(b"/registry/pods/"), cl("pods", ""));
        assert_eq!(p(b"/registry/pods/ns/"), ns("pods", "ns", ""));
        assert_eq!(p(b"/registry/namespaces/default/"), ns("namespaces", "default", ""));
        assert_eq!(p(b"/registry/pods/ns/a/b/c"), ns("pods", "ns", "a/b/c"));
        assert_eq!(p(b"/registry/services"), cl("services", ""));
        assert_eq!(p(b"/registry/services/specs"), cl("services", ""));
        assert_eq!(p(b"/registry/services/other/x"), ns("services", "other", "x"));
        assert_eq!(p(b"/registry/example.com"), cl("example.com", ""));
        assert_eq!(p(b"/registry/example.com/"), cl("example.com", ""));
        assert_eq!(p(b"/registry/example.com/widgets"), cl("widgets.example.com", ""));
    }

    #[test]
    fn binary_keys() {
        let k = b"/registry/secrets/ns\xff/na\x00me";
        let parts = parse(k).unwrap();
        assert_eq!(parts.resource, "secrets");
        assert_eq!(parts.namespace, Some(&b"ns\xff"[..]));
        assert_eq!(parts.name, b"na\x00me");
        assert_eq!(parts.namespace_lossy().unwrap(), "ns\u{fffd}");
        assert_eq!(parts.name_lossy(), "na\u{0}me");
        let g = parse(b"/registry/gr\xffoup.io/things/x").unwrap();
        assert_eq!(g.resource, "things.gr\u{fffd}oup.io");
        assert_eq!(p(b"\xff\xfe"), None);
    }

    #[test]
    fn resource_paths_name_the_same_resource() {
        let keys: [&[u8]; 16] = [
            b"/registry/pods/default/web-1",
            b"/registry/services/specs/default/kubernetes",
            b"/registry/services/endpoints/default/kubernetes",
            b"/registry/services/other/x",
            b"/registry/services",
            b"/registry/minions/node-1",
            b"/registry/cert-manager.io/certificates/ns/x",
            b"/registry/example.com",
            b"/registry/example.com/",
            b"/registry/example.com//x",
            b"/kubernetes.io/ingress/ns/a",
            b"/registry/po\xffds/ns/a",
            b"/registry/",
            b"/registry//x",
            b"/other/pods/a",
            b"compact_rev_key",
        ];
        for k in keys {
            let path = resource_path(k);
            assert_eq!(path.is_some(), parse(k).is_some(), "{k:?}");
            if let Some(p) = path {
                assert!(k.starts_with(p));
                assert_eq!(parse(p).map(|x| x.resource), parse(k).map(|x| x.resource), "{k:?}");
            }
        }
        assert_eq!(
            resource_path(b"/registry/services/specs/default/kubernetes"),
            Some(&b"/registry/services/specs"[..])
        );
        assert_eq!(resource_path(b"/registry/pods/ns/a"), Some(&b"/registry/pods"[..]));
        assert_eq!(
            resource_path(b"/registry/cert-manager.io/certificates/ns/x"),
            Some(&b"/registry/cert-manager.io/certificates"[..])
        );
    }

    #[test]
    fn prefix_groups() {
        let k = b"/registry/pods/ns/name";
        assert_eq!(prefix_group(k, 0), b"");
        assert_eq!(prefix_group(k, 1), b"/registry");
        assert_eq!(prefix_group(k, 2), b"/registry/pods");
        assert_eq!(prefix_group(k, 3), b"/registry/pods/ns");
        assert_eq!(prefix_group(k, 4), k);
        assert_eq!(prefix_group(k, 99), k);
        assert_eq!(prefix_group(b"compact_rev_key", 1), b"compact_rev_key");
        assert_eq!(prefix_group(b"a/b/c", 1), b"a");
        assert_eq!(prefix_group(b"a/b/c", 2), b"a/b");
        assert_eq!(prefix_group(b"", 2), b"");
        assert_eq!(prefix_group(b"/", 1), b"/");
        assert_eq!(prefix_group(b"//x", 1), b"/");
        assert_eq!(prefix_group(b"/registry/", 1), b"/registry");
        assert_eq!(prefix_group(b"/registry/", 2), b"/registry/");
        assert_eq!(prefix_group(b"/r\xff/\x00/z", 2), b"/r\xff/\x00");
    }
}
