//! A record's JSON document, kept as the text it is stored as.

use serde_json::Value;
use serde_json::value::RawValue;

/// A record's JSON document as its text.
///
/// A read hands the stored text to the client unchanged: parsing every
/// document of a page into a JSON tree only to print it again was most of
/// what a list cost. The text is checked to be JSON when a document is made
/// from it, so a damaged row is an error, never a malformed answer.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(transparent)]
pub struct Document(Box<RawValue>);

impl Document {
    /// The document of a JSON value, in serde_json's compact form.
    pub fn from_value(value: &Value) -> Result<Self, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(Self)
    }

    /// The document whose text is `text`, if it is JSON.
    pub fn from_text(text: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(text).map(Self)
    }

    /// The document of JSON text already checked, as a driver decodes it.
    pub fn from_raw(raw: Box<RawValue>) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The document as a JSON tree, for a write that merges into it or a
    /// cursor that needs one of its fields.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(self.as_str())
    }

    /// The value of the top-level field `name`; `None` when it is absent or
    /// the document is not an object.
    pub fn field(&self, name: &str) -> Option<Value> {
        match self.to_value() {
            Ok(Value::Object(mut fields)) => fields.remove(name),
            _ => None,
        }
    }
}

/// Documents are equal when they hold the same JSON, whatever their spacing
/// or key order (PostgreSQL prints `jsonb` in its own order).
impl PartialEq for Document {
    fn eq(&self, other: &Self) -> bool {
        match (self.to_value(), other.to_value()) {
            (Ok(a), Ok(b)) => a == b,
            _ => self.as_str() == other.as_str(),
        }
    }
}

impl PartialEq<Value> for Document {
    fn eq(&self, other: &Value) -> bool {
        self.to_value().is_ok_and(|value| value == *other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_text_is_passed_through_as_stored() {
        let text = r#"{"b":[1,2.50,"x"],"a":{"c":null}}"#.to_owned();
        let document = Document::from_text(text.clone()).unwrap();
        assert_eq!(document.as_str(), text);
        let wrapped = serde_json::to_string(&json!({"data": document})).unwrap();
        assert_eq!(wrapped, r#"{"data":{"a":{"c":null},"b":[1,2.5,"x"]}}"#);
        #[derive(serde::Serialize)]
        struct Body<'a> {
            data: &'a Document,
        }
        let raw = serde_json::to_string(&Body { data: &document }).unwrap();
        assert_eq!(raw, format!(r#"{{"data":{text}}}"#));
    }

    #[test]
    fn text_that_is_not_json_is_refused() {
        for bad in ["", "{", r#"{"a":}"#, "{} {}", "nul"] {
            assert!(Document::from_text(bad.to_owned()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn equality_is_of_the_json_not_of_the_text() {
        let compact = Document::from_value(&json!({"a": 1, "bb": "x"})).unwrap();
        let spaced = Document::from_text(r#"{"bb": "x", "a": 1}"#.to_owned()).unwrap();
        assert_eq!(compact, spaced);
        assert_eq!(spaced, json!({"a": 1, "bb": "x"}));
        assert_ne!(spaced, json!({"a": 2, "bb": "x"}));
        assert_eq!(spaced.field("bb"), Some(json!("x")));
        assert_eq!(spaced.field("zz"), None);
    }
}
