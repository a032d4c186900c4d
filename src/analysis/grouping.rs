//! How `du` (and anything that reports per group of keys, such as a diff summary) groups etcd
//! keys: by Kubernetes resource, namespace, both, or `/`-separated key prefix. The rules are
//! [`crate::k8s::key`]'s; this adds the group names `(other)` (outside the API prefixes) and
//! `(cluster)` (cluster-scoped keys, by namespace).

use crate::k8s::key;
use std::borrow::Cow;

/// The group of keys outside the Kubernetes prefixes.
pub const OTHER: &str = "(other)";
/// The namespace group of cluster-scoped Kubernetes keys.
pub const CLUSTER_SCOPED: &str = "(cluster)";

/// How keys are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    /// The Kubernetes resource ([`key::parse`]); `(other)` outside the API prefixes.
    Resource,
    /// The namespace; `(cluster)` for cluster-scoped keys, `(other)` outside the API prefixes.
    Namespace,
    /// `resource/namespace`, or the resource alone for cluster-scoped keys.
    ResourceNamespace,
    /// The key up to the end of its N-th `/`-separated segment ([`key::prefix_group`]).
    Prefix(usize),
}

impl By {
    /// Parses `resource`, `namespace`, `resource+namespace`, `prefix` or `prefix:N`.
    pub fn parse(s: &str) -> Result<By, String> {
        Ok(match s {
            "resource" => By::Resource,
            "namespace" => By::Namespace,
            "resource+namespace" => By::ResourceNamespace,
            "prefix" => By::Prefix(1),
            _ => match s.strip_prefix("prefix:").map(str::parse::<usize>) {
                Some(Ok(n)) if (1..=1024).contains(&n) => By::Prefix(n),
                _ => return Err(format!("{s:?}: use resource, namespace, resource+namespace or prefix[:1..1024]")),
            },
        })
    }

    /// The name `du` and `diff` report (`prefix:N`).
    pub fn name(&self) -> String {
        match self {
            By::Resource => "resource".into(),
            By::Namespace => "namespace".into(),
            By::ResourceNamespace => "resource+namespace".into(),
            By::Prefix(n) => format!("prefix:{n}"),
        }
    }

    /// The group of a key.
    pub fn group<'k>(&self, k: &'k [u8]) -> Cow<'k, [u8]> {
        match self {
            By::Resource => self.name_of(self.slot(k)),
            _ => self.slot(k),
        }
    }

    /// The group of a key as text (lossy UTF-8), for reports that name groups by strings.
    pub fn group_text(&self, k: &[u8]) -> String {
        String::from_utf8_lossy(&self.group(k)).into_owned()
    }

    /// What to sum a key's figures under, cheaply: the group itself, except by resource, where it
    /// is the key's resource path (a slice of the key, no allocation). Slots map to groups
    /// through [`By::name_of`]; several slots can be one group (`/registry/minions` and
    /// `/kubernetes.io/minions` are both `nodes`).
    pub fn slot<'k>(&self, k: &'k [u8]) -> Cow<'k, [u8]> {
        let parts = match self {
            // A key whose own bytes hold a Secret in the clear (a value read as a key) is one group,
            // REDACTED_KEY for all such keys (so group names stay distinct), told by the whole key
            // (its prefix can end before the kind: CBOR sorts `data` before it). Resources and
            // namespaces are path segments of keys under the API prefixes, which it never has.
            By::Prefix(_) if crate::k8s::secret::key_holds_secret(k) => {
                return Cow::Borrowed(crate::k8s::secret::REDACTED_KEY.as_bytes())
            }
            By::Prefix(n) => return Cow::Borrowed(key::prefix_group(k, *n)),
            By::Resource => return Cow::Borrowed(key::resource_path(k).unwrap_or(OTHER.as_bytes())),
            _ => key::parse(k),
        };
        let Some(p) = parts else { return Cow::Borrowed(OTHER.as_bytes()) };
        match (self, p.namespace) {
            (By::Namespace, Some(ns)) => Cow::Borrowed(ns),
            (By::Namespace, None) => Cow::Borrowed(CLUSTER_SCOPED.as_bytes()),
            (By::ResourceNamespace, Some(ns)) => Cow::Owned([p.resource.as_bytes(), b"/", ns].concat()),
            _ => Cow::Owned(p.resource.into_bytes()),
        }
    }

    /// The group a slot stands for.
    pub fn name_of<'k>(&self, slot: Cow<'k, [u8]>) -> Cow<'k, [u8]> {
        match (self, key::parse(&slot)) {
            (By::Resource, Some(p)) => Cow::Owned(p.resource.into_bytes()),
            _ => slot,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(by: By, k: &[u8]) -> Vec<u8> {
        by.group(k).into_owned()
    }

    #[test]
    fn groupings_parse_and_name_themselves() {
        for s in ["resource", "namespace", "resource+namespace", "prefix:1", "prefix:7"] {
            assert_eq!(By::parse(s).unwrap().name(), s);
        }
        assert_eq!(By::parse("prefix"), Ok(By::Prefix(1)));
        for bad in ["prefix:0", "prefix:x", "prefix:99999", "kind", ""] {
            assert!(By::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_resource_rule_on_every_form() {
        let r = |k: &[u8]| String::from_utf8(g(By::Resource, k)).unwrap();
        assert_eq!(r(b"/registry/services/specs/default/kubernetes"), "services");
        assert_eq!(r(b"/registry/services/endpoints/default/kubernetes"), "endpoints");
        assert_eq!(r(b"/registry/cert-manager.io/certificates/ns/c"), "certificates.cert-manager.io");
        assert_eq!(
            r(b"/registry/apiextensions.k8s.io/customresourcedefinitions/x.y"),
            "customresourcedefinitions.apiextensions.k8s.io"
        );
        assert_eq!(r(b"/registry/apiregistration.k8s.io/apiservices/v1.apps"), "apiservices.apiregistration.k8s.io");
        assert_eq!(r(b"/registry/minions/node-1"), "nodes");
        assert_eq!(r(b"/registry/controllers/ns/rc"), "replicationcontrollers");
        assert_eq!(r(b"/registry/ingress/ns/web"), "ingresses");
        assert_eq!(r(b"/registry/podsecuritypolicy/restricted"), "podsecuritypolicies");
        assert_eq!(r(b"/kubernetes.io/pods/ns/a"), "pods");
        assert_eq!(r(b"/openshift.io/routes/ns/r"), "routes");
        assert_eq!(r(b"compact_rev_key"), "(other)");
        assert_eq!(r(b"/registry/"), "(other)");
        assert_eq!(r(b"/registryx/pods/a"), "(other)");
        // Non-UTF-8 resource segments are named lossily; namespaces stay bytes.
        assert_eq!(r(b"/registry/po\xffds/ns/a"), "po\u{fffd}ds");
        assert_eq!(g(By::Namespace, b"/registry/secrets/n\xffs/a"), b"n\xffs");
    }

    #[test]
    fn namespaces_and_cluster_scoped_keys() {
        let ns = |k: &[u8]| String::from_utf8(g(By::Namespace, k)).unwrap();
        let rn = |k: &[u8]| String::from_utf8(g(By::ResourceNamespace, k)).unwrap();
        assert_eq!(ns(b"/registry/pods/kube-system/coredns"), "kube-system");
        assert_eq!(ns(b"/registry/services/specs/default/kubernetes"), "default");
        assert_eq!(ns(b"/registry/cert-manager.io/certificates/team-a/c"), "team-a");
        assert_eq!(ns(b"/registry/minions/node-1"), "(cluster)");
        assert_eq!(ns(b"/registry/namespaces/default"), "(cluster)");
        assert_eq!(ns(b"/hot/3"), "(other)");
        assert_eq!(rn(b"/registry/pods/kube-system/coredns"), "pods/kube-system");
        assert_eq!(rn(b"/registry/services/endpoints/default/kubernetes"), "endpoints/default");
        assert_eq!(rn(b"/registry/minions/node-1"), "nodes");
        assert_eq!(rn(b"/hot/3"), "(other)");
    }

    /// The rules `diff` relied on when it had its own copy of them.
    #[test]
    fn groups_of_keys() {
        let k = b"/registry/services/specs/default/kubernetes";
        assert_eq!(By::Resource.group_text(k), "services");
        assert_eq!(By::Namespace.group_text(k), "default");
        assert_eq!(By::Namespace.group_text(b"/registry/minions/n1"), CLUSTER_SCOPED);
        assert_eq!(By::Resource.group_text(b"compact_rev_key"), OTHER);
        assert_eq!(By::Namespace.group_text(b"/x/y"), OTHER);
        assert_eq!(By::Prefix(2).group_text(k), "/registry/services");
        assert_eq!(By::Prefix(1).name(), "prefix:1");
    }

    #[test]
    fn prefixes_split_on_slashes() {
        let p = |n, k: &[u8]| String::from_utf8(g(By::Prefix(n), k)).unwrap();
        assert_eq!(p(1, b"/registry/pods/ns/a"), "/registry");
        assert_eq!(p(2, b"/registry/pods/ns/a"), "/registry/pods");
        assert_eq!(p(1, b"key0"), "key0");
        assert_eq!(p(1, b"/hot/3"), "/hot");
        assert_eq!(p(3, b"a/b"), "a/b");
    }

    #[test]
    fn a_key_holding_a_secret_is_redacted_whole_in_a_prefix_group() {
        // Review 35d: a CBOR Secret as a key (CBOR sorts `data` before `kind`) cut at a `/` inside
        // its data left a prefix group without its kind, and the data showed.
        use ciborium::Value as C;
        let secret = C::Map(vec![
            (
                C::Bytes(b"data".to_vec()),
                C::Map(vec![(C::Bytes(b"password".to_vec()), C::Bytes(b"hunter2/x".to_vec()))]),
            ),
            (C::Bytes(b"kind".to_vec()), C::Text("Secret".into())),
            (C::Bytes(b"apiVersion".to_vec()), C::Text("v1".into())),
        ]);
        let mut key = vec![0xd9, 0xd9, 0xf7];
        ciborium::into_writer(&secret, &mut key).unwrap();
        assert!(crate::k8s::secret::key_holds_secret(&key));
        for by in [By::Prefix(1), By::Prefix(3)] {
            assert_eq!(by.group(&key).as_ref(), crate::k8s::secret::REDACTED_KEY.as_bytes(), "{by:?}");
        }
        assert_eq!(By::Prefix(1).group(b"/registry/secrets/ns/a").as_ref(), b"/registry");
    }
}
