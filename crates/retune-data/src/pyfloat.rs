//! Formatting floats as Python's `repr(float)` does, so rendered text matches the course's.
//!
//! Python prints the shortest digits that round-trip (as Rust does), always with a decimal point
//! or exponent (`2000.0`, not `2000`), and switches to exponent notation below 1e-4 or from 1e16
//! on, with a signed two-digit exponent (`1e+16`, `1.5e-05`).

/// `repr(x)` of a Python float.
pub fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let abs = x.abs();
    if (1e-4..1e16).contains(&abs) {
        let s = format!("{x}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let s = format!("{x:e}");
        let (mantissa, exp) = s.split_once('e').expect("exponent format has an e");
        let exp: i32 = exp.parse().expect("exponent is an integer");
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::python_float_repr as r;

    #[test]
    fn matches_python_repr() {
        let cases = [
            (2000.0, "2000.0"),
            (1247.83, "1247.83"),
            (0.1, "0.1"),
            (-3.5, "-3.5"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456789012345.6, "123456789012345.6"),
            (1e22, "1e+22"),
            (0.0, "0.0"),
            (f64::NAN, "nan"),
        ];
        for (x, want) in cases {
            assert_eq!(r(x), want, "{x}");
        }
    }
}
