//! Parameter values and their text form, as googleapiclient's `_cast` writes them.

/// A parameter value: text (as the command line passes it), a typed scalar, or a list for
/// repeated parameters.
///
/// ```
/// use discovery_client::ParamValue;
/// assert_eq!(ParamValue::from("a"), ParamValue::Str("a".into()));
/// assert_eq!(ParamValue::from(10), ParamValue::Int(10));
/// assert_eq!(ParamValue::from(vec!["a", "b"]), ParamValue::List(vec!["a".into(), "b".into()]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// Text; converted to the parameter's type (`"10"` for an integer is 10).
    Str(String),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A boolean (written `true` / `false`).
    Bool(bool),
    /// Several values of a repeated parameter (each sent as its own `name=value`).
    List(Vec<ParamValue>),
}

impl From<&str> for ParamValue {
    fn from(v: &str) -> Self {
        ParamValue::Str(v.to_owned())
    }
}
impl From<String> for ParamValue {
    fn from(v: String) -> Self {
        ParamValue::Str(v)
    }
}
impl From<&String> for ParamValue {
    fn from(v: &String) -> Self {
        ParamValue::Str(v.clone())
    }
}
impl From<bool> for ParamValue {
    fn from(v: bool) -> Self {
        ParamValue::Bool(v)
    }
}
impl From<i32> for ParamValue {
    fn from(v: i32) -> Self {
        ParamValue::Int(v.into())
    }
}
impl From<i64> for ParamValue {
    fn from(v: i64) -> Self {
        ParamValue::Int(v)
    }
}
impl From<u32> for ParamValue {
    fn from(v: u32) -> Self {
        ParamValue::Int(v.into())
    }
}
impl From<f64> for ParamValue {
    fn from(v: f64) -> Self {
        ParamValue::Float(v)
    }
}
impl<T: Into<ParamValue>> From<Vec<T>> for ParamValue {
    fn from(v: Vec<T>) -> Self {
        ParamValue::List(v.into_iter().map(Into::into).collect())
    }
}
impl<T: Into<ParamValue> + Clone> From<&[T]> for ParamValue {
    fn from(v: &[T]) -> Self {
        ParamValue::List(v.iter().cloned().map(Into::into).collect())
    }
}

impl ParamValue {
    /// A value from JSON: strings, numbers, booleans and arrays of them.
    ///
    /// ```
    /// use discovery_client::ParamValue;
    /// let v = ParamValue::from_json(&serde_json::json!([1, "a", true])).unwrap();
    /// assert_eq!(v, ParamValue::List(vec![1.into(), "a".into(), true.into()]));
    /// assert!(ParamValue::from_json(&serde_json::json!({"a": 1})).is_none());
    /// ```
    pub fn from_json(v: &serde_json::Value) -> Option<ParamValue> {
        use serde_json::Value;
        Some(match v {
            Value::String(s) => ParamValue::Str(s.clone()),
            Value::Bool(b) => ParamValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => ParamValue::Int(i),
                None => ParamValue::Float(n.as_f64()?),
            },
            Value::Array(a) => {
                ParamValue::List(a.iter().map(ParamValue::from_json).collect::<Option<_>>()?)
            }
            _ => return None,
        })
    }

    /// The value as Python's `str()` would print it (googleapiclient's fallback).
    fn py_str(&self) -> String {
        match self {
            ParamValue::Str(s) => s.clone(),
            ParamValue::Int(i) => i.to_string(),
            ParamValue::Float(f) => py_float_repr(*f),
            ParamValue::Bool(true) => "True".into(),
            ParamValue::Bool(false) => "False".into(),
            ParamValue::List(l) => {
                let items: Vec<String> = l
                    .iter()
                    .map(|v| match v {
                        ParamValue::Str(s) => format!("'{s}'"),
                        other => other.py_str(),
                    })
                    .collect();
                format!("[{}]", items.join(", "))
            }
        }
    }
}

/// The discovery types a parameter may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamType {
    String,
    Integer,
    Number,
    Boolean,
    Other,
}

impl ParamType {
    pub(crate) fn parse(s: Option<&str>) -> ParamType {
        match s {
            None | Some("string") => ParamType::String,
            Some("integer") => ParamType::Integer,
            Some("number") => ParamType::Number,
            Some("boolean") => ParamType::Boolean,
            Some(_) => ParamType::Other,
        }
    }
}

/// googleapiclient's `_cast`: a scalar as the text sent on the wire. `Err` holds the
/// reason a text value cannot be read as the type.
///
/// One deliberate difference: googleapiclient writes `bool(value)`, so the *text*
/// `"false"` becomes `true`; here `"false"`/`"0"` are false and `"true"`/`"1"` true.
pub(crate) fn cast(value: &ParamValue, ty: ParamType) -> Result<String, String> {
    match ty {
        ParamType::String | ParamType::Other => Ok(value.py_str()),
        ParamType::Integer => match value {
            ParamValue::Int(i) => Ok(i.to_string()),
            ParamValue::Bool(b) => Ok(u8::from(*b).to_string()),
            ParamValue::Float(f) if f.is_finite() => Ok(format!("{}", f.trunc() as i128)),
            ParamValue::Float(_) => Err("not a finite number".into()),
            ParamValue::Str(s) => py_int(s).ok_or_else(|| "not an integer".into()),
            ParamValue::List(_) => Err("a list where one value is expected".into()),
        },
        ParamType::Number => match value {
            ParamValue::Int(i) => Ok(py_float_repr(*i as f64)),
            ParamValue::Float(f) => Ok(py_float_repr(*f)),
            ParamValue::Bool(b) => Ok(if *b { "1.0" } else { "0.0" }.into()),
            ParamValue::Str(s) => py_float(s)
                .map(py_float_repr)
                .ok_or_else(|| "not a number".into()),
            ParamValue::List(_) => Err("a list where one value is expected".into()),
        },
        ParamType::Boolean => match value {
            ParamValue::Bool(b) => Ok(b.to_string()),
            ParamValue::Int(i) => Ok((*i != 0).to_string()),
            ParamValue::Float(f) => Ok((*f != 0.0).to_string()),
            ParamValue::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Ok("true".into()),
                "false" | "0" | "" => Ok("false".into()),
                _ => Err("not a boolean (true or false)".into()),
            },
            ParamValue::List(_) => Err("a list where one value is expected".into()),
        },
    }
}

/// [`cast`], borrowing the text when it goes out as given (a string parameter's text).
pub(crate) fn cast_text(
    value: &ParamValue,
    ty: ParamType,
) -> Result<std::borrow::Cow<'_, str>, String> {
    match (value, ty) {
        (ParamValue::Str(s), ParamType::String | ParamType::Other) => Ok(s.as_str().into()),
        _ => cast(value, ty).map(Into::into),
    }
}

/// Python's `int(text)`: surrounding whitespace, a sign, digits with single underscores
/// between them; written back canonically.
fn py_int(s: &str) -> Option<String> {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    let plain: String = digits.chars().filter(|c| *c != '_').collect();
    let trimmed = plain.trim_start_matches('0');
    if trimmed.is_empty() {
        return Some("0".into());
    }
    Some(if neg {
        format!("-{trimmed}")
    } else {
        trimmed.to_owned()
    })
}

/// Python's `float(text)`.
fn py_float(s: &str) -> Option<f64> {
    let t = s.trim().replace('_', "");
    let lower = t.to_ascii_lowercase();
    let core = lower.trim_start_matches(['+', '-']);
    if !matches!(core, "inf" | "infinity" | "nan")
        && !core
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'))
    {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Python's `repr(float)`: the shortest round-trip digits, fixed notation for exponents
/// from -4 to 15 (with `.0` when integral), `1e+16` style beyond.
///
/// ```
/// # use discovery_client::value::py_float_repr;
/// assert_eq!(py_float_repr(10.0), "10.0");
/// assert_eq!(py_float_repr(1.5), "1.5");
/// assert_eq!(py_float_repr(1e16), "1e+16");
/// assert_eq!(py_float_repr(0.0001), "0.0001");
/// assert_eq!(py_float_repr(0.00001), "1e-05");
/// assert_eq!(py_float_repr(-2.5e-7), "-2.5e-07");
/// assert_eq!(py_float_repr(f64::NAN), "nan");
/// ```
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let sci = format!("{:e}", f.abs()); // "1.5e-5", shortest digits
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let body = if exp >= 0 {
            let int_len = exp + 1;
            if n <= int_len {
                format!("{digits}{}.0", "0".repeat((int_len - n) as usize))
            } else {
                format!(
                    "{}.{}",
                    &digits[..int_len as usize],
                    &digits[int_len as usize..]
                )
            }
        } else {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        };
        format!("{sign}{body}")
    } else {
        let m = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let es = if exp < 0 { "-" } else { "+" };
        format!("{sign}{m}e{es}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_follow_googleapiclient() {
        let s = |v: ParamValue, t| cast(&v, t).unwrap();
        assert_eq!(s("007".into(), ParamType::Integer), "7");
        assert_eq!(s(" +1_000 ".into(), ParamType::Integer), "1000");
        assert_eq!(s("-0".into(), ParamType::Integer), "0");
        assert!(cast(&"1.5".into(), ParamType::Integer).is_err());
        assert_eq!(s(2.9.into(), ParamType::Integer), "2");
        assert_eq!(s(10.into(), ParamType::Number), "10.0");
        assert_eq!(s("1e5".into(), ParamType::Number), "100000.0");
        assert_eq!(s(true.into(), ParamType::Boolean), "true");
        assert_eq!(s("False".into(), ParamType::Boolean), "false");
        assert!(cast(&"yes".into(), ParamType::Boolean).is_err());
        assert_eq!(s(true.into(), ParamType::String), "True");
        assert_eq!(s(1.5.into(), ParamType::String), "1.5");
        assert_eq!(s(123456789012i64.into(), ParamType::String), "123456789012");
    }

    #[test]
    fn float_repr_matches_python() {
        for (f, want) in [
            (123456789.125, "123456789.125"),
            (1e15, "1000000000000000.0"),
            (1.25e15, "1250000000000000.0"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e100, "1e+100"),
            (123e-20, "1.23e-18"),
        ] {
            assert_eq!(py_float_repr(f), want);
        }
    }
}
