//! Input quoted in a message, cut to a readable length.
//!
//! Every error message that quotes what a user gave (a header line, a value, a name) quotes
//! it through [`quote`]: in double quotes with Rust's escapes (so control characters and
//! trailing spaces show), and, past [`MAX_CHARS`] characters, cut and saying so, with the
//! length of the whole. A 50,000-character header then gives a message of a few hundred
//! characters, not 50 kB.

use std::fmt;

/// Characters of the input a message quotes at most.
pub const MAX_CHARS: usize = 200;

/// `s` as a message quotes it: see the module's documentation.
pub fn quote(s: &str) -> Quoted<'_> {
    Quoted(s)
}

/// `s` cut to [`MAX_CHARS`] characters with a note of the whole length when longer, not
/// quoted (for text that is already a list or a sentence, such as a header's fields).
pub fn cut(s: &str) -> Cut<'_> {
    Cut(s)
}

/// Items a message lists at most.
pub const MAX_ITEMS: usize = 20;

/// Each of `items` quoted, separated by commas: the first [`MAX_ITEMS`], then how many more.
pub fn quote_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut shown = Vec::new();
    let mut more = 0usize;
    for item in items {
        if shown.len() < MAX_ITEMS {
            shown.push(quote(item).to_string());
        } else {
            more += 1;
        }
    }
    let mut list = shown.join(", ");
    if more > 0 {
        list.push_str(&format!(" and {more} more"));
    }
    list
}

/// A message that quotes values in backticks, as serde's do (``unknown variant `x`,
/// expected one of `a`, `b` ``), with each quoted value cut past [`MAX_CHARS`] characters and
/// the rest kept whole.
pub fn cut_backticked(message: &str) -> String {
    message
        .split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { cut(part).to_string() } else { part.to_owned() })
        .collect::<Vec<_>>()
        .join("`")
}

/// The first [`MAX_CHARS`] characters of `s`, and its length in characters if that cut it.
fn head(s: &str) -> (&str, Option<usize>) {
    match s.char_indices().nth(MAX_CHARS) {
        None => (s, None),
        Some((end, _)) => (&s[..end], Some(s.chars().count())),
    }
}

/// Displays as its text in double quotes, escaped, cut past [`MAX_CHARS`] characters.
#[derive(Clone, Copy)]
pub struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (shown, whole) = head(self.0);
        write!(f, "{shown:?}")?;
        if let Some(n) = whole {
            write!(f, " (cut: the first {MAX_CHARS} of {n} characters)")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Displays as its text, cut past [`MAX_CHARS`] characters.
#[derive(Clone, Copy)]
pub struct Cut<'a>(&'a str);

impl fmt::Display for Cut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (shown, whole) = head(self.0);
        f.write_str(shown)?;
        if let Some(n) = whole {
            write!(f, "… (cut: the first {MAX_CHARS} of {n} characters)")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Cut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_quoted_whole() {
        assert_eq!(quote("Amélie \"x\"\t").to_string(), r#""Amélie \"x\"\t""#);
        assert_eq!(cut("a, b").to_string(), "a, b");
        let exact = "é".repeat(MAX_CHARS);
        assert_eq!(quote(&exact).to_string(), format!("\"{exact}\""));
    }

    #[test]
    fn backticked_values_are_cut_and_the_rest_kept() {
        let long = "x".repeat(1_000);
        let m = cut_backticked(&format!("unknown variant `{long}`, expected one of `csv`, `synthetic`"));
        assert!(m.starts_with(&format!("unknown variant `{}…", "x".repeat(MAX_CHARS))), "{m}");
        assert!(m.ends_with("of 1000 characters)`, expected one of `csv`, `synthetic`"), "{m}");
    }

    #[test]
    fn lists_show_their_first_items_and_count_the_rest() {
        assert_eq!(quote_list(["a", "b"]), r#""a", "b""#);
        let many: Vec<String> = (0..25).map(|i| i.to_string()).collect();
        let list = quote_list(many.iter().map(String::as_str));
        assert!(list.starts_with(r#""0", "1""#) && list.ends_with(r#""19" and 5 more"#), "{list}");
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary_and_says_so() {
        let long = "é".repeat(50_000);
        let q = quote(&long).to_string();
        assert!(q.len() < 500, "{} bytes", q.len());
        assert!(q.starts_with(&format!("\"{}\"", "é".repeat(MAX_CHARS))));
        assert!(q.ends_with("(cut: the first 200 of 50000 characters)"), "{q}");
        let c = cut(&long).to_string();
        assert!(c.starts_with(&"é".repeat(MAX_CHARS)) && c.ends_with("of 50000 characters)"), "{c}");
    }
}
