//! What a walk computes: a [`Fold`] builds an accumulator per subtree and joins them in key
//! order, so results that depend on order (etcd's CRC-32C) equal one sequential pass; [`Ctx`]
//! says where an entry sits; [`Pair`] runs two folds in one walk.

use super::page::{LeafElem, Page};

/// Where an entry sits: bucket nesting depth (0 = the root bucket, whose entries are the
/// top-level buckets), the top-level bucket's name, and the path for problem reports.
#[derive(Clone, Copy, Debug)]
pub struct Ctx<'a> {
    /// 0 for entries of the root bucket, 1 for entries of top-level buckets, and so on.
    pub depth: u32,
    /// Name of the top-level bucket the entry is in (empty at depth 0).
    pub top: &'a [u8],
    pub(crate) path: Option<&'a PathNode<'a>>,
}

/// One bucket name on the path to an entry, linked to its parent's.
#[derive(Debug)]
pub(crate) struct PathNode<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) parent: Option<&'a PathNode<'a>>,
}

impl Ctx<'_> {
    /// The bucket path as lossy UTF-8 names, outermost first.
    pub fn path(&self) -> Vec<String> {
        let mut v = Vec::new();
        let mut n = self.path;
        while let Some(p) = n {
            v.push(p.name);
            n = p.parent;
        }
        v.reverse();
        let top = v.first().copied().unwrap_or_default();
        v.iter()
            .enumerate()
            .map(|(i, name)| if i == 0 { shown_name(b"", name) } else { shown_name(top, name) })
            .collect()
    }

    /// The bucket path's names in base64, outermost first, when one of them is not UTF-8 (so
    /// [`Ctx::path`] cannot tell it from another) with `last` appended; never under etcd's `key`
    /// bucket, whose names [`shown_name`] keeps hidden.
    pub fn path_base64(&self, last: &[u8]) -> Option<Vec<String>> {
        let mut v = vec![last];
        let mut n = self.path;
        while let Some(p) = n {
            v.push(p.name);
            n = p.parent;
        }
        v.reverse();
        let hidden = v.len() > 1 && v[0] == super::walker::VALUES_BUCKET;
        if hidden || v.iter().all(|n| std::str::from_utf8(n).is_ok()) {
            return None;
        }
        Some(v.iter().map(|n| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, n)).collect())
    }
}

/// A bucket's name on a path, as problems and reports show it: as text, except under etcd's `key`
/// bucket, which holds no buckets: a name there was read through a damaged element and may be
/// bytes of a value (see [`super::walker::shown_key`]).
pub fn shown_name(top: &[u8], name: &[u8]) -> String {
    if top == super::walker::VALUES_BUCKET {
        super::walker::shown_key(top, name)
    } else {
        String::from_utf8_lossy(name).into_owned()
    }
}

/// A leaf page whose elements have all been checked, handed to [`Fold::leaf`].
#[derive(Clone, Copy, Debug)]
pub struct Leaf<'a> {
    /// The page (or inline bucket page).
    pub page: Page<'a>,
    /// Number of elements (at least one).
    pub count: usize,
    /// The first element.
    pub first: LeafElem<'a>,
    /// The last element.
    pub last: LeafElem<'a>,
    /// `k0 v0 k1 v1 ...` as one slice, when the layout is canonical.
    pub packed: Option<&'a [u8]>,
}

impl<'a> Leaf<'a> {
    /// Iterates the (already checked) elements.
    pub fn elems(&self) -> impl Iterator<Item = LeafElem<'a>> + '_ {
        (0..self.count).filter_map(move |i| self.page.leaf_elem(i).ok())
    }
}

/// What a walk computes. Accumulators are built per subtree and joined left to right.
pub trait Fold: Sync {
    /// The per-subtree result.
    type Acc: Send;
    /// The result of an empty subtree.
    fn empty(&self) -> Self::Acc;
    /// Joins the result of a subtree with the one right after it in key order.
    fn join(&self, left: Self::Acc, right: Self::Acc) -> Self::Acc;
    /// A leaf with no bucket entries: all its elements, in order.
    fn leaf(&self, acc: &mut Self::Acc, ctx: &Ctx<'_>, leaf: &Leaf<'_>) {
        for e in leaf.elems() {
            self.entry(acc, ctx, &e);
        }
    }
    /// One element of a leaf that has bucket entries (called before descending into a bucket).
    fn entry(&self, acc: &mut Self::Acc, ctx: &Ctx<'_>, e: &LeafElem<'_>);
    /// A bucket entry's subtree has been walked; `sub` is its result (entries at `depth + 1`).
    fn bucket(&self, acc: &mut Self::Acc, ctx: &Ctx<'_>, e: &LeafElem<'_>, sub: Self::Acc) {
        let _ = (acc, ctx, e, sub);
    }
    /// A page of a bucket's tree was visited (for page statistics): `tree_level` is 0 at the
    /// bucket's root; `inline` marks an inline bucket's page (inside its parent's value).
    fn page(&self, acc: &mut Self::Acc, ctx: &Ctx<'_>, page: &Page<'_>, tree_level: u32, inline: bool) {
        let _ = (acc, ctx, page, tree_level, inline);
    }
    /// Whether the walk goes into the bucket `name`, an entry of the bucket at `ctx` (every
    /// bucket unless a fold says otherwise: a walk of the trees a reader does not read itself).
    fn descend(&self, ctx: &Ctx<'_>, name: &[u8]) -> bool {
        let _ = (ctx, name);
        true
    }
}

/// The fold that computes nothing.
impl Fold for () {
    type Acc = ();
    fn empty(&self) {}
    fn join(&self, _: (), _: ()) {}
    fn leaf(&self, _: &mut (), _: &Ctx<'_>, _: &Leaf<'_>) {}
    fn entry(&self, _: &mut (), _: &Ctx<'_>, _: &LeafElem<'_>) {}
}

/// Two folds in one walk.
pub struct Pair<'f, A: Fold, B: Fold>(pub &'f A, pub &'f B);

impl<A: Fold, B: Fold> Fold for Pair<'_, A, B> {
    type Acc = (A::Acc, B::Acc);
    fn empty(&self) -> Self::Acc {
        (self.0.empty(), self.1.empty())
    }
    fn join(&self, l: Self::Acc, r: Self::Acc) -> Self::Acc {
        (self.0.join(l.0, r.0), self.1.join(l.1, r.1))
    }
    fn leaf(&self, acc: &mut Self::Acc, ctx: &Ctx<'_>, leaf: &Leaf<'_>) {
        self.0.leaf(&mut acc.0, ctx, leaf);
        self.1.leaf(&mut acc.1, ctx, leaf);
    }
    fn entry(&self, acc: &mut Self::Acc, ctx: &Ctx<'_>, e: &LeafElem<'_>) {
        self.0.entry(&mut acc.0, ctx, e);
        self.1.entry(&mut acc.1, ctx, e);
    }
    fn bucket(&self, acc: &mut Self::Acc, ctx: &Ctx<'_>, e: &LeafElem<'_>, sub: Self::Acc) {
        self.0.bucket(&mut acc.0, ctx, e, sub.0);
        self.1.bucket(&mut acc.1, ctx, e, sub.1);
    }
    fn page(&self, acc: &mut Self::Acc, ctx: &Ctx<'_>, page: &Page<'_>, tree_level: u32, inline: bool) {
        self.0.page(&mut acc.0, ctx, page, tree_level, inline);
        self.1.page(&mut acc.1, ctx, page, tree_level, inline);
    }
    fn descend(&self, ctx: &Ctx<'_>, name: &[u8]) -> bool {
        self.0.descend(ctx, name) && self.1.descend(ctx, name)
    }
}
