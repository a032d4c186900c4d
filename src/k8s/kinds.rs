//! Field tables (number → JSON name, type) for ObjectMeta and the kinds this module knows.
//!
//! Every number and name here is a fact read from the Kubernetes `generated.proto` files
//! (k8s.io/apimachinery `pkg/apis/meta/v1`, k8s.io/api `core/v1`, `apps/v1`, `batch/v1`,
//! `coordination/v1`, `discovery/v1`, `rbac/v1`, `events/v1`; checked at kubernetes/api
//! 10b39a39 and kubernetes/apimachinery eed236ce, July 2026).
//!
//! Small kinds are described completely (Secret, ConfigMap, Lease, Namespace, core and
//! events.k8s.io Event, RBAC roles and bindings, ServiceAccount, RangeAllocation,
//! ControllerRevision). For the large ones (Pod, Deployment, Service, Node, ...) only the top
//! level is named (`spec`, `status`, ...) and the inside is rendered by field number: no crate
//! offers these schemas at a reasonable cost (see the module docs in `mod.rs`).

use super::schema::{many, one, Field, Msg, Ty};

/// `metav1.ObjectMeta`. Numbers 15 (`clusterName`) and 16 (`initializers`) belonged to fields
/// since removed; if present they show by number.
pub static OBJECT_META: Msg = Msg {
    name: "ObjectMeta",
    fields: &[
        one(1, "name", Ty::Str),
        one(2, "generateName", Ty::Str),
        one(3, "namespace", Ty::Str),
        one(4, "selfLink", Ty::Str),
        one(5, "uid", Ty::Str),
        one(6, "resourceVersion", Ty::Str),
        one(7, "generation", Ty::Int),
        one(8, "creationTimestamp", Ty::Time),
        one(9, "deletionTimestamp", Ty::Time),
        one(10, "deletionGracePeriodSeconds", Ty::Int),
        one(11, "labels", Ty::StrMap),
        one(12, "annotations", Ty::StrMap),
        many(13, "ownerReferences", Ty::Msg(&OWNER_REFERENCE)),
        many(14, "finalizers", Ty::Str),
        many(17, "managedFields", Ty::Msg(&MANAGED_FIELDS_ENTRY)),
    ],
};

static OWNER_REFERENCE: Msg = Msg {
    name: "OwnerReference",
    fields: &[
        one(5, "apiVersion", Ty::Str),
        one(1, "kind", Ty::Str),
        one(3, "name", Ty::Str),
        one(4, "uid", Ty::Str),
        one(6, "controller", Ty::Bool),
        one(7, "blockOwnerDeletion", Ty::Bool),
    ],
};

static MANAGED_FIELDS_ENTRY: Msg = Msg {
    name: "ManagedFieldsEntry",
    fields: &[
        one(1, "manager", Ty::Str),
        one(2, "operation", Ty::Str),
        one(3, "apiVersion", Ty::Str),
        one(4, "time", Ty::Time),
        one(6, "fieldsType", Ty::Str),
        one(7, "fieldsV1", Ty::FieldsV1),
        one(8, "subresource", Ty::Str),
    ],
};

const META: Field = one(1, "metadata", Ty::Msg(&OBJECT_META));

/// core/v1 `Secret`. Its `data` and `stringData` values are redacted unless asked for.
pub static SECRET: Msg = Msg {
    name: "Secret",
    fields: &[
        META,
        one(2, "data", Ty::SecretBytesMap),
        one(3, "type", Ty::SecretType),
        one(4, "stringData", Ty::SecretStrMap),
        one(5, "immutable", Ty::Bool),
    ],
};

static CONFIG_MAP: Msg = Msg {
    name: "ConfigMap",
    fields: &[META, one(2, "data", Ty::StrMap), one(3, "binaryData", Ty::BytesMap), one(4, "immutable", Ty::Bool)],
};

/// Any kind without a table: metadata, the rest by number.
pub static UNKNOWN_KIND: Msg = Msg { name: "(unknown kind)", fields: &[META] };

static SPEC_STATUS: Msg =
    Msg { name: "(spec/status kind)", fields: &[META, one(2, "spec", Ty::AnyMsg), one(3, "status", Ty::AnyMsg)] };

static SPEC_ONLY: Msg = Msg { name: "(spec kind)", fields: &[META, one(2, "spec", Ty::AnyMsg)] };

static LEASE: Msg = Msg { name: "Lease", fields: &[META, one(2, "spec", Ty::Msg(&LEASE_SPEC))] };

static LEASE_SPEC: Msg = Msg {
    name: "LeaseSpec",
    fields: &[
        one(1, "holderIdentity", Ty::Str),
        one(2, "leaseDurationSeconds", Ty::Int),
        one(3, "acquireTime", Ty::MicroTime),
        one(4, "renewTime", Ty::MicroTime),
        one(5, "leaseTransitions", Ty::Int),
        one(6, "strategy", Ty::Str),
        one(7, "preferredHolder", Ty::Str),
    ],
};

static NAMESPACE: Msg = Msg {
    name: "Namespace",
    fields: &[META, one(2, "spec", Ty::Msg(&NAMESPACE_SPEC)), one(3, "status", Ty::Msg(&NAMESPACE_STATUS))],
};

static NAMESPACE_SPEC: Msg = Msg { name: "NamespaceSpec", fields: &[many(1, "finalizers", Ty::Str)] };

static NAMESPACE_STATUS: Msg = Msg {
    name: "NamespaceStatus",
    fields: &[one(1, "phase", Ty::Str), many(2, "conditions", Ty::Msg(&NAMESPACE_CONDITION))],
};

static NAMESPACE_CONDITION: Msg = Msg {
    name: "NamespaceCondition",
    fields: &[
        one(1, "type", Ty::Str),
        one(2, "status", Ty::Str),
        one(4, "lastTransitionTime", Ty::Time),
        one(5, "reason", Ty::Str),
        one(6, "message", Ty::Str),
    ],
};

static OBJECT_REFERENCE: Msg = Msg {
    name: "ObjectReference",
    fields: &[
        one(1, "kind", Ty::Str),
        one(2, "namespace", Ty::Str),
        one(3, "name", Ty::Str),
        one(4, "uid", Ty::Str),
        one(5, "apiVersion", Ty::Str),
        one(6, "resourceVersion", Ty::Str),
        one(7, "fieldPath", Ty::Str),
    ],
};

static EVENT_SOURCE: Msg =
    Msg { name: "EventSource", fields: &[one(1, "component", Ty::Str), one(2, "host", Ty::Str)] };

static EVENT_SERIES: Msg =
    Msg { name: "EventSeries", fields: &[one(1, "count", Ty::Int), one(2, "lastObservedTime", Ty::MicroTime)] };

static CORE_EVENT: Msg = Msg {
    name: "Event",
    fields: &[
        META,
        one(2, "involvedObject", Ty::Msg(&OBJECT_REFERENCE)),
        one(3, "reason", Ty::Str),
        one(4, "message", Ty::Str),
        one(5, "source", Ty::Msg(&EVENT_SOURCE)),
        one(6, "firstTimestamp", Ty::Time),
        one(7, "lastTimestamp", Ty::Time),
        one(8, "count", Ty::Int),
        one(9, "type", Ty::Str),
        one(10, "eventTime", Ty::MicroTime),
        one(11, "series", Ty::Msg(&EVENT_SERIES)),
        one(12, "action", Ty::Str),
        one(13, "related", Ty::Msg(&OBJECT_REFERENCE)),
        one(14, "reportingComponent", Ty::Str),
        one(15, "reportingInstance", Ty::Str),
    ],
};

static EVENTS_EVENT: Msg = Msg {
    name: "events.k8s.io Event",
    fields: &[
        META,
        one(2, "eventTime", Ty::MicroTime),
        one(3, "series", Ty::Msg(&EVENT_SERIES)),
        one(4, "reportingController", Ty::Str),
        one(5, "reportingInstance", Ty::Str),
        one(6, "action", Ty::Str),
        one(7, "reason", Ty::Str),
        one(8, "regarding", Ty::Msg(&OBJECT_REFERENCE)),
        one(9, "related", Ty::Msg(&OBJECT_REFERENCE)),
        one(10, "note", Ty::Str),
        one(11, "type", Ty::Str),
        one(12, "deprecatedSource", Ty::Msg(&EVENT_SOURCE)),
        one(13, "deprecatedFirstTimestamp", Ty::Time),
        one(14, "deprecatedLastTimestamp", Ty::Time),
        one(15, "deprecatedCount", Ty::Int),
    ],
};

static ENDPOINTS: Msg = Msg { name: "Endpoints", fields: &[META, many(2, "subsets", Ty::AnyMsg)] };

static ENDPOINT_SLICE: Msg = Msg {
    name: "EndpointSlice",
    fields: &[META, many(2, "endpoints", Ty::AnyMsg), many(3, "ports", Ty::AnyMsg), one(4, "addressType", Ty::Str)],
};

static LABEL_SELECTOR: Msg = Msg {
    name: "LabelSelector",
    fields: &[one(1, "matchLabels", Ty::StrMap), many(2, "matchExpressions", Ty::Msg(&LABEL_SELECTOR_REQUIREMENT))],
};

static LABEL_SELECTOR_REQUIREMENT: Msg = Msg {
    name: "LabelSelectorRequirement",
    fields: &[one(1, "key", Ty::Str), one(2, "operator", Ty::Str), many(3, "values", Ty::Str)],
};

static POLICY_RULE: Msg = Msg {
    name: "PolicyRule",
    fields: &[
        many(1, "verbs", Ty::Str),
        many(2, "apiGroups", Ty::Str),
        many(3, "resources", Ty::Str),
        many(4, "resourceNames", Ty::Str),
        many(5, "nonResourceURLs", Ty::Str),
    ],
};

static AGGREGATION_RULE: Msg =
    Msg { name: "AggregationRule", fields: &[many(1, "clusterRoleSelectors", Ty::Msg(&LABEL_SELECTOR))] };

static CLUSTER_ROLE: Msg = Msg {
    name: "ClusterRole",
    fields: &[META, many(2, "rules", Ty::Msg(&POLICY_RULE)), one(3, "aggregationRule", Ty::Msg(&AGGREGATION_RULE))],
};

static ROLE: Msg = Msg { name: "Role", fields: &[META, many(2, "rules", Ty::Msg(&POLICY_RULE))] };

static SUBJECT: Msg = Msg {
    name: "Subject",
    fields: &[
        one(1, "kind", Ty::Str),
        one(2, "apiGroup", Ty::Str),
        one(3, "name", Ty::Str),
        one(4, "namespace", Ty::Str),
    ],
};

static ROLE_REF: Msg =
    Msg { name: "RoleRef", fields: &[one(1, "apiGroup", Ty::Str), one(2, "kind", Ty::Str), one(3, "name", Ty::Str)] };

static ROLE_BINDING: Msg = Msg {
    name: "(Cluster)RoleBinding",
    fields: &[META, many(2, "subjects", Ty::Msg(&SUBJECT)), one(3, "roleRef", Ty::Msg(&ROLE_REF))],
};

static LOCAL_OBJECT_REFERENCE: Msg = Msg { name: "LocalObjectReference", fields: &[one(1, "name", Ty::Str)] };

static SERVICE_ACCOUNT: Msg = Msg {
    name: "ServiceAccount",
    fields: &[
        META,
        many(2, "secrets", Ty::Msg(&OBJECT_REFERENCE)),
        many(3, "imagePullSecrets", Ty::Msg(&LOCAL_OBJECT_REFERENCE)),
        one(4, "automountServiceAccountToken", Ty::Bool),
    ],
};

static POD_TEMPLATE: Msg = Msg { name: "PodTemplate", fields: &[META, one(2, "template", Ty::AnyMsg)] };

static RANGE_ALLOCATION: Msg =
    Msg { name: "RangeAllocation", fields: &[META, one(2, "range", Ty::Str), one(3, "data", Ty::Bytes)] };

static CONTROLLER_REVISION: Msg =
    Msg { name: "ControllerRevision", fields: &[META, one(2, "data", Ty::RawExtension), one(3, "revision", Ty::Int)] };

/// The table for an object of `apiVersion`/`kind` (the group is what precedes `/` in
/// `apiVersion`; the core group has none). Unknown kinds get [`UNKNOWN_KIND`].
pub fn lookup(api_version: &str, kind: &str) -> &'static Msg {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    match (group, kind) {
        ("", "Secret") => &SECRET,
        ("", "ConfigMap") => &CONFIG_MAP,
        ("", "Namespace") => &NAMESPACE,
        ("", "Event") => &CORE_EVENT,
        ("events.k8s.io", "Event") => &EVENTS_EVENT,
        ("", "Endpoints") => &ENDPOINTS,
        ("", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("", "PodTemplate") => &POD_TEMPLATE,
        ("", "RangeAllocation") => &RANGE_ALLOCATION,
        ("", "LimitRange") => &SPEC_ONLY,
        (
            "",
            "Pod"
            | "Service"
            | "Node"
            | "PersistentVolume"
            | "PersistentVolumeClaim"
            | "ReplicationController"
            | "ResourceQuota",
        )
        | ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch", "Job" | "CronJob") => &SPEC_STATUS,
        ("apps", "ControllerRevision") => &CONTROLLER_REVISION,
        ("coordination.k8s.io", "Lease") => &LEASE,
        ("discovery.k8s.io", "EndpointSlice") => &ENDPOINT_SLICE,
        ("rbac.authorization.k8s.io", "ClusterRole") => &CLUSTER_ROLE,
        ("rbac.authorization.k8s.io", "Role") => &ROLE,
        ("rbac.authorization.k8s.io", "ClusterRoleBinding" | "RoleBinding") => &ROLE_BINDING,
        _ => &UNKNOWN_KIND,
    }
}
