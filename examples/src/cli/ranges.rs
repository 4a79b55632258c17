//! Parse-time ranges of the numeric options: a value outside its range (or not a finite
//! number) is refused by clap with the option, the value and the range, before any work. The
//! options that take a number below zero are also marked `allow_negative_numbers`, so that
//! `--lr -1` reads as the number -1 (and is refused as one) instead of an unknown flag.

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))
}

fn finite(s: &str) -> Result<f64, String> {
    let x: f64 = number(s)?;
    if x.is_finite() {
        Ok(x)
    } else {
        Err(format!("{s} is not a finite number"))
    }
}

/// A count of at least 1.
pub fn at_least_one(s: &str) -> Result<usize, String> {
    let n: usize = number(s).map_err(|_| format!("{s:?} is not a whole number >= 1"))?;
    if n >= 1 {
        Ok(n)
    } else {
        Err("must be at least 1".into())
    }
}

/// A finite number above 0.
pub fn positive(s: &str) -> Result<f64, String> {
    let x = finite(s)?;
    if x > 0.0 {
        Ok(x)
    } else {
        Err(format!("must be above 0, got {x}"))
    }
}

/// A finite number of at least 0.
pub fn non_negative(s: &str) -> Result<f64, String> {
    let x = finite(s)?;
    if x >= 0.0 {
        Ok(x)
    } else {
        Err(format!("must be 0 or more, got {x}"))
    }
}

/// As [`non_negative`], for `f32` options.
pub fn non_negative_f32(s: &str) -> Result<f32, String> {
    non_negative(s).map(|x| x as f32)
}

/// A share in `[0, 1]`.
pub fn unit_interval(s: &str) -> Result<f64, String> {
    let x = finite(s)?;
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(format!("must be between 0 and 1, got {x}"))
    }
}

/// A share of a data set that may be empty: `[0, 1)`.
pub fn fraction(s: &str) -> Result<f64, String> {
    let x = finite(s)?;
    if (0.0..1.0).contains(&x) {
        Ok(x)
    } else {
        Err(format!("must be at least 0 and below 1, got {x}"))
    }
}

/// A share of a data set that must hold something: `(0, 1)`.
pub fn open_fraction(s: &str) -> Result<f64, String> {
    let x = finite(s)?;
    if x > 0.0 && x < 1.0 {
        Ok(x)
    } else {
        Err(format!("must be above 0 and below 1, got {x}"))
    }
}

/// A sampling temperature: `[0, 2]`, as OpenAI's API accepts.
pub fn temperature(s: &str) -> Result<f32, String> {
    let x = finite(s)?;
    if (0.0..=2.0).contains(&x) {
        Ok(x as f32)
    } else {
        Err(format!("must be between 0 and 2, got {x}"))
    }
}

/// A size in bytes: a whole number with an optional unit (`B`, `KB`, `MB`, `GB` in powers
/// of 1000; `KiB`, `MiB`, `GiB` in powers of 1024), at least 1 byte.
pub fn bytes(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let scale: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit {other:?} (use B, KB, MB, GB, KiB, MiB or GiB)"
            ));
        }
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 2MB"))?;
    match n.checked_mul(scale) {
        Some(v) if v >= 1 => Ok(v),
        Some(_) => Err("must be at least 1 byte".into()),
        None => Err(format!("{s} is too large")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_range_takes_its_bounds_and_refuses_nan_and_beyond() {
        assert_eq!(at_least_one("1"), Ok(1));
        assert!(at_least_one("0").is_err() && at_least_one("-1").is_err());
        assert_eq!(positive("5e-5"), Ok(5e-5));
        for bad in ["0", "-1", "NaN", "inf", "x"] {
            assert!(positive(bad).is_err(), "{bad}");
        }
        assert_eq!(non_negative("0"), Ok(0.0));
        assert!(non_negative("-0.1").is_err() && non_negative("NaN").is_err());
        assert!(unit_interval("1").is_ok() && unit_interval("5").is_err());
        assert!(fraction("0").is_ok() && fraction("1").is_err());
        assert!(open_fraction("0").is_err() && open_fraction("0.2").is_ok());
        assert!(temperature("2").is_ok() && temperature("NaN").is_err());
    }

    #[test]
    fn sizes_take_decimal_and_binary_units() {
        assert_eq!(bytes("2MB"), Ok(2_000_000));
        assert_eq!(bytes("512 KiB"), Ok(512 * 1024));
        assert_eq!(bytes("100"), Ok(100));
        for bad in ["0", "-1", "2XB", "MB", "1.5MB", "99999999999999GB"] {
            assert!(bytes(bad).is_err(), "{bad}");
        }
    }
}
