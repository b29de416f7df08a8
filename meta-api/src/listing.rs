//! The one prefix / delimiter / marker / page-size rollup of every listing — objects, versions,
//! multipart uploads in meta, and the gateway's Swift listings — as S3 and Swift define it:
//!
//! - entries are offered in listing order, already restricted to the prefix and past the
//!   marker by the caller (which knows its own ordering and markers);
//! - with a delimiter, an entry whose key continues past the prefix with the delimiter is
//!   rolled up into its common prefix (prefix + text up to and including the delimiter), listed
//!   once; the entries under it that follow are skipped, and the caller may seek past it;
//! - a common prefix at or before the marker was listed on an earlier page and is not listed
//!   again;
//! - items and common prefixes together count against the page size; the entry that does not
//!   fit marks the page truncated.

/// What became of an offered entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// Listed as an item.
    Listed,
    /// Rolled up into this common prefix: listed now (first time) or already (an earlier
    /// entry or page). The caller may skip every key starting with it.
    RolledUp(String),
    /// Under the common prefix rolled up last: skipped.
    Skipped,
    /// The page is full: the listing is truncated and the caller stops.
    Full,
}

/// The last thing a page listed, from which the next page's markers are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Last<'a, T> {
    Prefix(&'a str),
    Item(&'a T),
}

/// A page of a listing being accumulated.
#[derive(Debug)]
pub struct Rollup<'a, T> {
    prefix: &'a str,
    delimiter: Option<&'a str>,
    marker: Option<&'a str>,
    max: usize,
    rolled: Option<String>,
    last_is_prefix: bool,
    /// The listed items, in order.
    pub items: Vec<T>,
    /// The listed common prefixes, in order.
    pub common_prefixes: Vec<String>,
    /// True when an entry did not fit.
    pub truncated: bool,
}

impl<'a, T> Rollup<'a, T> {
    /// A page of at most `max` entries (items and common prefixes) under `prefix`, rolled up at
    /// `delimiter` (an empty one is none), after `marker` (a common prefix at or before it is
    /// not listed again).
    pub fn new(
        prefix: &'a str,
        delimiter: Option<&'a str>,
        marker: Option<&'a str>,
        max: usize,
    ) -> Rollup<'a, T> {
        Rollup {
            prefix,
            delimiter: delimiter.filter(|d| !d.is_empty()),
            marker,
            max,
            rolled: None,
            last_is_prefix: false,
            items: Vec::new(),
            common_prefixes: Vec::new(),
            truncated: false,
        }
    }

    /// The common prefix `key` rolls up into, if any (`key` starts with the prefix).
    pub fn common_prefix(&self, key: &str) -> Option<String> {
        let d = self.delimiter?;
        let rest = key.get(self.prefix.len()..)?;
        rest.find(d)
            .map(|i| key[..self.prefix.len() + i + d.len()].to_string())
    }

    /// The common prefix rolled up last, if any.
    pub fn rolled(&self) -> Option<&str> {
        self.rolled.as_deref()
    }

    /// True when `key` lies under the common prefix rolled up last.
    pub fn under_rolled(&self, key: &str) -> bool {
        self.rolled.as_deref().is_some_and(|p| key.starts_with(p))
    }

    /// Offers the entry under `key`; `item` makes the listed item when it is listed as one.
    pub fn offer(&mut self, key: &str, item: impl FnOnce() -> T) -> Offer {
        if self.truncated {
            return Offer::Full;
        }
        if self.under_rolled(key) {
            return Offer::Skipped;
        }
        if let Some(cp) = self.common_prefix(key) {
            let seen = self.marker.is_some_and(|m| cp.as_str() <= m);
            if !seen {
                if !self.room() {
                    return Offer::Full;
                }
                self.common_prefixes.push(cp.clone());
                self.last_is_prefix = true;
            }
            self.rolled = Some(cp.clone());
            return Offer::RolledUp(cp);
        }
        if !self.room() {
            return Offer::Full;
        }
        self.items.push(item());
        self.last_is_prefix = false;
        Offer::Listed
    }

    fn room(&mut self) -> bool {
        if self.items.len() + self.common_prefixes.len() >= self.max {
            self.truncated = true;
            return false;
        }
        true
    }

    /// The last item or common prefix listed.
    pub fn last(&self) -> Option<Last<'_, T>> {
        if self.last_is_prefix {
            self.common_prefixes.last().map(|p| Last::Prefix(p))
        } else {
            self.items.last().map(Last::Item)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lists `keys` (sorted) as the callers do: prefix and marker filtered by the caller.
    fn page(
        keys: &[&str],
        prefix: &str,
        delimiter: Option<&str>,
        marker: Option<&str>,
        max: usize,
    ) -> (Vec<String>, Vec<String>, bool) {
        let mut r = Rollup::new(prefix, delimiter, marker, max);
        for k in keys {
            if !k.starts_with(prefix) || marker.is_some_and(|m| *k <= m) {
                continue;
            }
            if r.offer(k, || k.to_string()) == Offer::Full {
                break;
            }
        }
        (r.items, r.common_prefixes, r.truncated)
    }

    const KEYS: &[&str] = &["a", "b/1", "b/2", "c/x/1", "c/y", "d"];

    #[test]
    fn rolls_up_at_the_delimiter_once() {
        let (items, cps, t) = page(KEYS, "", Some("/"), None, 100);
        assert_eq!(items, ["a", "d"]);
        assert_eq!(cps, ["b/", "c/"]);
        assert!(!t);
        let (items, cps, _) = page(KEYS, "c/", Some("/"), None, 100);
        assert_eq!(items, ["c/y"]);
        assert_eq!(cps, ["c/x/"]);
        let (items, _, _) = page(KEYS, "", None, None, 100);
        assert_eq!(items.len(), KEYS.len());
        let (items, cps, _) = page(KEYS, "", Some(""), None, 100);
        assert_eq!(
            (items.len(), cps.len()),
            (KEYS.len(), 0),
            "empty delimiter is none"
        );
    }

    #[test]
    fn items_and_prefixes_share_the_page_and_the_next_page_resumes() {
        let (items, cps, t) = page(KEYS, "", Some("/"), None, 2);
        assert_eq!((items, cps, t), (vec!["a".into()], vec!["b/".into()], true));
        // The next page starts after the last common prefix: b/ is not listed again.
        let (items, cps, t) = page(KEYS, "", Some("/"), Some("b/"), 2);
        assert_eq!(
            (items, cps, t),
            (vec!["d".into()], vec!["c/".into()], false)
        );
    }

    #[test]
    fn a_full_page_is_truncated_only_when_something_is_left() {
        let (items, _, t) = page(&["a", "b"], "", None, None, 2);
        assert_eq!((items.len(), t), (2, false));
        let (items, _, t) = page(&["a", "b", "c"], "", None, None, 2);
        assert_eq!((items.len(), t), (2, true));
    }

    #[test]
    fn multi_character_and_non_ascii_delimiters() {
        let keys = ["x--1", "x--2", "y", "é😀a", "é😀b"];
        let (items, cps, _) = page(&keys, "", Some("--"), None, 10);
        assert_eq!(cps, ["x--"]);
        assert_eq!(items.len(), 3);
        let (_, cps, _) = page(&keys, "é", Some("😀"), None, 10);
        assert_eq!(cps, ["é😀"]);
    }

    #[test]
    fn last_names_what_was_listed_last() {
        let mut r: Rollup<String> = Rollup::new("", Some("/"), None, 10);
        assert_eq!(r.last(), None);
        r.offer("a", || "a".into());
        assert_eq!(r.last(), Some(Last::Item(&"a".to_string())));
        assert_eq!(
            r.offer("b/1", || unreachable!()),
            Offer::RolledUp("b/".into())
        );
        assert_eq!(r.last(), Some(Last::Prefix("b/")));
        assert_eq!(r.offer("b/2", || unreachable!()), Offer::Skipped);
    }
}
