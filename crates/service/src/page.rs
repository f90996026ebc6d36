//! A page of a list and where the next one starts, made one way for every
//! list a use case answers (records, the audit log, members, API keys,
//! tenants).

/// A page of items and the cursor of the page after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// Handed back by the caller to continue after the last item; only a
    /// full page (as many items as asked for) has one.
    pub next_cursor: Option<String>,
}

impl<T> Paged<T> {
    /// The page of `items` asked for with `limit`, its next cursor made from
    /// its last item by `cursor_after`.
    pub(crate) fn new(items: Vec<T>, limit: u32, cursor_after: impl FnOnce(&T) -> String) -> Self {
        let next_cursor = (items.len() == limit as usize)
            .then(|| items.last().map(cursor_after))
            .flatten();
        Self { items, next_cursor }
    }

    /// No items, and nothing after them.
    pub(crate) fn empty() -> Self {
        Self {
            items: Vec::new(),
            next_cursor: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_full_page_points_at_the_next() {
        let full = Paged::new(vec![1, 2, 3], 3, i32::to_string);
        assert_eq!(full.next_cursor.as_deref(), Some("3"));
        let short = Paged::new(vec![1, 2], 3, i32::to_string);
        assert_eq!(short.next_cursor, None);
        let none = Paged::new(Vec::<i32>::new(), 0, i32::to_string);
        assert_eq!(none.next_cursor, None);
        assert_eq!(Paged::<i32>::empty().items, Vec::<i32>::new());
    }
}
