//! Tests of the filter language: every error with its position, typing,
//! sorting, and properties over arbitrary input.

use proptest::prelude::*;
use time::macros::datetime;

use super::sample::{self, field};
use super::*;
use crate::collection::{CollectionSchema, FieldName, FieldType};

/// The sample schema, with a field whose name is a keyword of the language.
fn orders() -> CollectionSchema {
    let keyword = field("in", FieldType::Text { max_len: None }, false);
    sample::orders(vec![keyword])
}

/// Asserts that `text` fails to parse at `position` with a message
/// containing `message`.
#[track_caller]
fn check_parse_error(text: &str, position: usize, message: &str) {
    match parse(text) {
        Ok(expr) => panic!("{text:?} parsed as {expr:?}"),
        Err(error) => {
            assert_eq!(error.position, position, "{text:?}: {error}");
            assert!(error.message.contains(message), "{text:?}: {error}");
        }
    }
}

#[test]
fn parse_errors_point_at_the_problem() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "",
            0,
            "expected a field name, '!' or '(', found the end of the filter",
        ),
        ("   ", 3, "expected a field name"),
        ("= 1", 0, "found '='"),
        ("title", 5, "expected an operator"),
        ("title =", 7, "expected a value"),
        (
            "title == 1",
            7,
            "expected a value (a quoted string, a number, true, false or null), found '='",
        ),
        ("title = TRUE", 8, "found 'TRUE'"),
        (
            "title = 1 tag = 2",
            10,
            "expected '&&', '||' or the end of the filter, found 'tag'",
        ),
        ("title = 1 & tag = 2", 10, "expected '&&'"),
        ("title = 1 | tag = 2", 10, "expected '||'"),
        ("title = 1 &&", 12, "found the end of the filter"),
        ("title = 1 || || tag = 2", 13, "found '||'"),
        ("(title = 1", 10, "expected '&&', '||' or ')'"),
        ("title = 1)", 9, "found ')'"),
        ("!", 1, "expected a field name"),
        ("()", 1, "found ')'"),
        ("title = 'abc", 8, "unterminated string"),
        ("title = \"abc\\", 8, "unterminated string"),
        ("title = \"a\\qb\"", 10, "unknown escape '\\q'"),
        ("title = \"\\u{110000}\"", 9, "invalid \\u{...} escape"),
        ("title = \"\\u{d800}\"", 9, "invalid \\u{...} escape"),
        ("title = \"\\u{}\"", 9, "invalid \\u{...} escape"),
        ("title = \"\\u{1234567}\"", 9, "invalid \\u{...} escape"),
        ("title = \"\\u41\"", 9, "invalid \\u{...} escape"),
        ("title = 1.", 10, "expected a digit after '.'"),
        ("title = 1.e5", 10, "expected a digit after '.'"),
        ("title = 1e", 10, "expected a digit in the exponent"),
        ("title = 1e+", 11, "expected a digit in the exponent"),
        ("title = -", 8, "unexpected character '-'"),
        ("title = .5", 8, "unexpected character '.'"),
        ("title # 1", 6, "unexpected character '#'"),
        ("tïtle = 1", 1, "unexpected character 'ï'"),
        ("title = 1 && é", 13, "unexpected character 'é'"),
        ("title in 1", 9, "expected '(' after 'in'"),
        ("title in ()", 10, "expected a value"),
        ("title in (1,)", 12, "expected a value"),
        ("title in (1 2)", 12, "expected ',' or ')'"),
        ("title in (1", 11, "expected ',' or ')'"),
        (
            "'title' = 1",
            0,
            "expected a field name, '!' or '(', found a string",
        ),
        ("title = 1 = 2", 10, "found '='"),
    ];
    for (text, position, message) in cases {
        check_parse_error(text, *position, message);
    }
}

#[test]
fn nesting_is_limited_to_sixteen_levels() {
    let patterns: [&[&str]; 4] = [&["!"], &["("], &["!", "("], &["( ", "! "]];
    for pattern in patterns {
        let filter = |depth: usize| {
            let mut text = String::new();
            let mut closers = String::new();
            for level in 0..depth {
                let opener = pattern[level % pattern.len()];
                text.push_str(opener);
                if opener.starts_with('(') {
                    closers.push(')');
                }
            }
            format!("{text}title = 1{closers}")
        };
        assert!(parse(&filter(16)).is_ok(), "{pattern:?} 16 deep");
        let too_deep = filter(17);
        // The 17th '!' or '(' is where depth 17 starts.
        let seventeenth = too_deep
            .char_indices()
            .filter(|(_, character)| matches!(character, '!' | '('))
            .nth(16)
            .unwrap()
            .0;
        check_parse_error(&too_deep, seventeenth, "at most 16 deep");
    }
}

#[test]
fn sibling_parentheses_do_not_add_up() {
    let text = vec!["(((title = 1)))"; 30].join(" && ");
    assert!(parse(&text).is_ok());
}

#[test]
fn length_is_limited_to_4096_bytes() {
    let base = "title = 1";
    let exactly = format!("{base}{}", " ".repeat(MAX_FILTER_LEN - base.len()));
    assert_eq!(exactly.len(), 4096);
    assert!(parse(&exactly).is_ok());
    let longer = format!("{exactly} ");
    check_parse_error(&longer, 4096, "at most 4096 bytes");
    let much_longer = vec!["title = 1"; 1000].join(" && ");
    check_parse_error(&much_longer, 4096, "at most 4096 bytes");
}

#[test]
fn in_lists_hold_at_most_a_hundred_values() {
    let list = |n: usize| {
        let values = (0..n).map(|value| value.to_string()).collect::<Vec<_>>();
        format!("quantity in ({})", values.join(","))
    };
    assert!(parse(&list(100)).is_ok());
    let text = list(101);
    let hundred_and_first = text.rfind(',').unwrap() + 1;
    check_parse_error(&text, hundred_and_first, "at most 100 values");
}

fn compare(field: &str, op: CompareOp, value: Literal) -> Expr {
    Expr::Compare {
        field: Spanned::new(field.to_owned(), 0),
        op: Spanned::new(op, 0),
        value: Spanned::new(value, 0),
    }
}

fn number(text: &str) -> Literal {
    Literal::Number(text.to_owned())
}

#[test]
fn precedence_is_not_then_and_then_or() {
    let a = || compare("a", CompareOp::Eq, number("1"));
    let b = || compare("b", CompareOp::Ne, Literal::String("x".to_owned()));
    let c = || compare("c", CompareOp::Lt, Literal::Bool(true));
    assert_eq!(
        parse("a = 1 || b != 'x' && !c < true").unwrap(),
        Expr::Or(vec![a(), Expr::And(vec![b(), Expr::Not(Box::new(c()))])])
    );
    assert_eq!(
        parse("(a = 1 || b != \"x\") && c < true").unwrap(),
        Expr::And(vec![Expr::Or(vec![a(), b()]), c()])
    );
    assert_eq!(
        parse("a=1&&b!='x'&&c<true").unwrap(),
        Expr::And(vec![a(), b(), c()])
    );
}

#[test]
fn literals_and_keywords() {
    let expr = parse(r#"in in ('it''s', "a\"b\\c\n\u{1F600}", -1.5e+3, +2, true, false, null)"#);
    // Two adjacent strings are two tokens, so this is an error between them.
    assert_eq!(expr.unwrap_err().position, 11);
    let expr =
        parse(r#"in in ('it\'s', "a\"b\\c\n\u{1F600}", -1.5e+3, +2, true, false, null)"#).unwrap();
    let Expr::In { field, values } = expr else {
        panic!("not an in list");
    };
    assert_eq!(field.node, "in");
    let values: Vec<Literal> = values.into_iter().map(|value| value.node).collect();
    assert_eq!(
        values,
        [
            Literal::String("it's".to_owned()),
            Literal::String("a\"b\\c\n\u{1F600}".to_owned()),
            number("-1.5e+3"),
            number("+2"),
            Literal::Bool(true),
            Literal::Bool(false),
            Literal::Null,
        ]
    );
}

#[test]
fn display_is_canonical() {
    let cases = [
        ("a=1", "a = 1"),
        ("a = 'x' && b ~ \"y\"", "a = \"x\" && b ~ \"y\""),
        ("(a = 1 && b = 2) && c = 3", "(a = 1 && b = 2) && c = 3"),
        ("(a = 1 && b = 2) || c = 3", "a = 1 && b = 2 || c = 3"),
        ("a = 1 && (b = 2 || c = 3)", "a = 1 && (b = 2 || c = 3)"),
        ("!(a = 1)", "!a = 1"),
        ("!(a = 1 || b = 2)", "!(a = 1 || b = 2)"),
        ("!!a = 1", "!!a = 1"),
        ("a in (1,'x' ,null)", "a in (1, \"x\", null)"),
        ("a = 'tab\there'", "a = \"tab\\there\""),
        ("a = '\u{7}'", "a = \"\\u{7}\""),
        ("((((a = 1))))", "a = 1"),
    ];
    for (text, canonical) in cases {
        let expr = parse(text).unwrap();
        assert_eq!(expr.to_string(), canonical, "{text:?}");
        assert_eq!(parse(canonical).unwrap(), expr, "{text:?}");
    }
}

#[test]
fn positions_are_kept_but_not_compared() {
    let Expr::Compare { field, op, value } = parse("  title   >=  'x'").unwrap() else {
        panic!("not a comparison");
    };
    assert_eq!((field.position, op.position, value.position), (2, 10, 14));
    assert_eq!(
        parse("title>='x'").unwrap(),
        parse("  title   >=  'x'").unwrap()
    );
}

/// Asserts that `text` parses but fails to typecheck at `position`.
#[track_caller]
fn check_type_error(text: &str, position: usize, message: &str) {
    let expr = parse(text).unwrap();
    match typecheck(&expr, &orders()) {
        Ok(typed) => panic!("{text:?} typed as {typed:?}"),
        Err(error) => {
            assert_eq!(error.position, position, "{text:?}: {error}");
            assert!(error.message.contains(message), "{text:?}: {error}");
        }
    }
}

#[test]
fn type_errors_point_at_the_field_operator_or_value() {
    let cases: &[(&str, usize, &str)] = &[
        ("nope = 1", 0, "unknown field 'nope'"),
        (
            "title = 'a' && (tag = 'b' || nope = 1)",
            29,
            "unknown field 'nope'",
        ),
        ("Title = 'a'", 0, "unknown field 'Title'"),
        ("extra = 1", 0, "json field 'extra' cannot be used"),
        ("version = 1", 0, "'version' cannot be used"),
        ("status ~ 'o'", 7, "'~' applies only to text fields"),
        ("quantity ~ 1", 9, "'~' applies only to text fields"),
        ("paid < true", 5, "can only be compared with = or !="),
        ("paid in (true)", 0, "'in' does not apply to bool field"),
        ("paid = 1", 7, "'paid' needs true or false"),
        ("title = 1", 8, "'title' needs a quoted string"),
        ("title = true", 8, "'title' needs a quoted string"),
        ("quantity = 1.5", 11, "needs a whole number"),
        ("quantity = 9223372036854775808", 11, "fits 64 bits"),
        ("quantity = '1'", 11, "'quantity' needs a number"),
        ("weight = 1e999", 9, "out of range"),
        ("total = 1e-19", 8, "at most 18 digits after the point"),
        ("total = 1e40", 8, "at most 38 digits"),
        ("total = '1'", 8, "'total' needs a number"),
        ("due > 'yesterday'", 6, "'due' holds datetimes"),
        (
            "due > '9999-12-31T23:00:00-01:00'",
            6,
            "between the years 0000 and 9999",
        ),
        ("due > 1", 6, "needs an RFC 3339 datetime"),
        (
            "created_at >= '2024-13-01T00:00:00Z'",
            14,
            "holds datetimes",
        ),
        ("id = 'x'", 5, "'id' holds ids"),
        ("owner_id = 5", 11, "'owner_id' needs a uuid"),
        (
            "customer in ('0190c0de-0000-7000-8000-000000000000', 'nope')",
            53,
            "is not a uuid",
        ),
        (
            "status = 'lost'",
            9,
            "\"lost\" is not one of the values of 'status'",
        ),
        ("status in ('open', 'lost')", 19, "is not one of the values"),
        ("title = null", 8, "'title' always has a value"),
        ("id != null", 6, "'id' always has a value"),
        ("tag < null", 4, "null can only be compared with = or !="),
        ("tag ~ null", 4, "null can only be compared with = or !="),
        ("tag in ('a', null)", 13, "null cannot be in an 'in' list"),
    ];
    for (text, position, message) in cases {
        check_type_error(text, *position, message);
    }
}

fn data(name: &str, schema: &CollectionSchema) -> FieldRef {
    FieldRef::Data {
        name: FieldName::parse(name).unwrap(),
        field_type: schema.field(name).unwrap().field_type.clone(),
    }
}

#[test]
fn values_are_typed_and_normalised() {
    let schema = orders();
    let typed = |text: &str| typecheck(&parse(text).unwrap(), &schema).unwrap();
    let compare = |name: &str, op: CompareOp, value: TypedValue| TypedExpr::Compare {
        field: data(name, &schema),
        op,
        value,
    };
    assert_eq!(
        typed("total >= 0012.50 && quantity < 1e3 && weight != -2.5 && title ~ '%_'"),
        TypedExpr::And(vec![
            compare(
                "total",
                CompareOp::Ge,
                TypedValue::Decimal("12.5".to_owned())
            ),
            compare("quantity", CompareOp::Lt, TypedValue::Integer(1000)),
            compare("weight", CompareOp::Ne, TypedValue::Number(-2.5)),
            compare(
                "title",
                CompareOp::Contains,
                TypedValue::Text("%_".to_owned())
            ),
        ])
    );
    assert_eq!(
        typed("due > '2024-05-01T14:30:00.1234567+02:00' || !paid = true"),
        TypedExpr::Or(vec![
            compare(
                "due",
                CompareOp::Gt,
                TypedValue::Datetime(datetime!(2024-05-01 12:30:00.123456 UTC)),
            ),
            TypedExpr::Not(Box::new(compare(
                "paid",
                CompareOp::Eq,
                TypedValue::Bool(true)
            ))),
        ])
    );
    let id = uuid::Uuid::parse_str("0190c0de-aaaa-7000-8000-00000000000f").unwrap();
    assert_eq!(
        typed("id > '0190C0DE-AAAA-7000-8000-00000000000F'"),
        TypedExpr::Compare {
            field: FieldRef::System(SystemField::Id),
            op: CompareOp::Gt,
            value: TypedValue::Uuid(id),
        }
    );
    assert_eq!(
        typed("customer in ('0190c0de-aaaa-7000-8000-00000000000f') && status in ('open', 'paid')"),
        TypedExpr::And(vec![
            TypedExpr::In {
                field: data("customer", &schema),
                values: vec![TypedValue::Uuid(id)],
            },
            TypedExpr::In {
                field: data("status", &schema),
                values: vec![
                    TypedValue::Text("open".to_owned()),
                    TypedValue::Text("paid".to_owned()),
                ],
            },
        ])
    );
    assert_eq!(
        typed("tag = null || due != null"),
        TypedExpr::Or(vec![
            TypedExpr::IsNull {
                field: data("tag", &schema),
                negated: false,
            },
            TypedExpr::IsNull {
                field: data("due", &schema),
                negated: true,
            },
        ])
    );
    assert_eq!(
        typed("created_at <= '2024-01-01T00:00:00Z'"),
        TypedExpr::Compare {
            field: FieldRef::System(SystemField::CreatedAt),
            op: CompareOp::Le,
            value: TypedValue::Datetime(datetime!(2024-01-01 0:00 UTC)),
        }
    );
    assert_eq!(
        typed("in in ('x')"),
        TypedExpr::In {
            field: data("in", &schema),
            values: vec![TypedValue::Text("x".to_owned())],
        }
    );
}

#[test]
fn sort_keys_are_parsed_and_checked() {
    let schema = orders();
    assert_eq!(
        parse_sort("-created_at, title ,-id", &schema).unwrap(),
        [
            SortKey {
                field: FieldRef::System(SystemField::CreatedAt),
                descending: true,
            },
            SortKey {
                field: data("title", &schema),
                descending: false,
            },
            SortKey {
                field: FieldRef::System(SystemField::Id),
                descending: true,
            },
        ]
    );
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "expected a field name"),
        ("  ", 2, "expected a field name"),
        ("title,", 6, "expected a field name"),
        ("title,,tag", 6, "expected a field name"),
        ("-", 1, "expected a field name"),
        ("title, -", 8, "expected a field name"),
        ("title,tag,id,due", 13, "at most 3 keys"),
        ("nope", 0, "unknown field 'nope'"),
        ("title, -nope", 8, "unknown field 'nope'"),
        ("extra", 0, "json field 'extra'"),
        ("version", 0, "'version' cannot be used"),
        ("title,-title", 7, "'title' is already a sort key"),
        ("--title", 1, "unknown field '-title'"),
    ];
    for (text, position, message) in cases {
        let error = parse_sort(text, &schema).unwrap_err();
        assert_eq!(error.position, *position, "{text:?}: {error}");
        assert!(error.message.contains(message), "{text:?}: {error}");
    }
    let long = format!("title{}", " ".repeat(MAX_FILTER_LEN));
    assert_eq!(
        parse_sort(&long, &schema).unwrap_err().position,
        MAX_FILTER_LEN
    );
}

/// Text made mostly of the filter's own characters, so that random input
/// reaches deep into the lexer and parser.
fn filterish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("title".to_owned()),
        Just("status".to_owned()),
        Just("quantity".to_owned()),
        Just("in".to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("&&".to_owned()),
        Just("||".to_owned()),
        Just("'open'".to_owned()),
        Just("\"x\\u{41}\"".to_owned()),
        "[ =!<>~&|(),.'\"\\\\eE+0-9a-z_-]{1,3}",
        "\\PC{1,2}",
    ];
    proptest::collection::vec(token, 0..24).prop_map(|tokens| tokens.concat())
}

/// Any expression the parser can produce, kept shallow and short enough for
/// the limits.
fn expr() -> impl Strategy<Value = Expr> {
    let field = prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_]{0,6}",
        Just("in".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
    ];
    let literal = prop_oneof![
        "\\PC{0,6}".prop_map(Literal::String),
        // Any characters but NUL, which no literal may contain.
        "[^\\x00]{0,4}".prop_map(Literal::String),
        "[+-]?[0-9]{1,4}(\\.[0-9]{1,4})?([eE][+-]?[0-9]{1,3})?".prop_map(Literal::Number),
        any::<bool>().prop_map(Literal::Bool),
        Just(Literal::Null),
    ];
    let op = prop_oneof![
        Just(CompareOp::Eq),
        Just(CompareOp::Ne),
        Just(CompareOp::Lt),
        Just(CompareOp::Le),
        Just(CompareOp::Gt),
        Just(CompareOp::Ge),
        Just(CompareOp::Contains),
    ];
    fn spanned<T>(node: T) -> Spanned<T> {
        Spanned::new(node, 0)
    }
    let leaf = prop_oneof![
        (field.clone(), op, literal.clone()).prop_map(|(field, op, value)| Expr::Compare {
            field: spanned(field),
            op: spanned(op),
            value: spanned(value),
        }),
        (field, proptest::collection::vec(literal, 1..4)).prop_map(|(field, values)| {
            Expr::In {
                field: spanned(field),
                values: values.into_iter().map(spanned).collect(),
            }
        }),
    ];
    // Each level adds at most two to the nesting ('!('), so five levels stay
    // within the limit of sixteen.
    leaf.prop_recursive(5, 24, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
            inner.prop_map(|operand| Expr::Not(Box::new(operand))),
        ]
    })
}

/// An upper bound on how deep the canonical text of `expr` nests '!' and
/// '(' as the parser counts them.
fn nesting(expr: &Expr) -> usize {
    match expr {
        Expr::And(operands) | Expr::Or(operands) => operands
            .iter()
            .map(|operand| nesting(operand) + 1)
            .max()
            .unwrap_or(0),
        Expr::Not(operand) => nesting(operand) + 2,
        Expr::Compare { .. } | Expr::In { .. } => 0,
    }
}

/// An error points inside the text, on a character boundary unless it is
/// the length error (which is at byte 4096, wherever that falls).
fn check_error_position(text: &str, error: &FilterError) -> Result<(), TestCaseError> {
    prop_assert!(error.position <= text.len(), "{error} in {text:?}");
    if text.len() <= MAX_FILTER_LEN {
        prop_assert!(text.is_char_boundary(error.position), "{error} in {text:?}");
    } else {
        prop_assert_eq!(error.position, MAX_FILTER_LEN);
    }
    Ok(())
}

/// Long text of multi-byte characters, so the length limit falls inside one.
fn long_text() -> impl Strategy<Value = String> {
    (4000usize..4200, "[a-zé€😀 =']{1,4}")
        .prop_map(|(n_bytes, unit)| unit.repeat(n_bytes / unit.len() + 1))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics_and_errors_point_inside_it(text in prop_oneof![
        4 => any::<String>(),
        4 => filterish(),
        1 => long_text(),
    ]) {
        let schema = orders();
        match parse(&text) {
            Ok(expr) => {
                let _ = typecheck(&expr, &schema);
                // What parses once parses back from its canonical text.
                let canonical = expr.to_string();
                if canonical.len() <= MAX_FILTER_LEN {
                    prop_assert_eq!(parse(&canonical).unwrap(), expr);
                }
            }
            Err(error) => check_error_position(&text, &error)?,
        }
        if let Err(error) = parse_sort(&text, &schema) {
            check_error_position(&text, &error)?;
        }
    }

    #[test]
    fn expressions_round_trip_through_their_text(expr in expr()) {
        prop_assume!(nesting(&expr) <= MAX_DEPTH);
        let text = expr.to_string();
        prop_assert!(text.len() <= MAX_FILTER_LEN);
        let parsed = parse(&text).map_err(|error| {
            TestCaseError::fail(format!("{error} in {text:?}"))
        })?;
        prop_assert_eq!(&parsed, &expr);
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused_where_it_starts(
        openers in proptest::collection::vec((prop_oneof![Just('!'), Just('(')], 0usize..3), 0..40),
    ) {
        let mut text = String::new();
        let mut closers = String::new();
        let mut opener_positions = Vec::new();
        for (opener, spaces) in &openers {
            opener_positions.push(text.len());
            text.push(*opener);
            text.push_str(&" ".repeat(*spaces));
            if *opener == '(' {
                closers.push(')');
            }
        }
        text.push_str("title = 'x'");
        text.push_str(&closers);
        match parse(&text) {
            Ok(_) => prop_assert!(openers.len() <= MAX_DEPTH),
            Err(error) => {
                prop_assert!(openers.len() > MAX_DEPTH, "{error} in {text:?}");
                prop_assert_eq!(error.position, opener_positions[MAX_DEPTH]);
            }
        }
    }

    #[test]
    fn length_beyond_the_limit_is_refused_at_the_limit(n_terms in 1usize..600, padding in 0usize..8) {
        let text = vec![format!("title = 'x'{}", " ".repeat(padding)); n_terms].join("&&");
        match parse(&text) {
            Ok(_) => prop_assert!(text.len() <= MAX_FILTER_LEN),
            Err(error) => {
                prop_assert!(text.len() > MAX_FILTER_LEN);
                prop_assert_eq!(error.position, MAX_FILTER_LEN);
            }
        }
    }
}
