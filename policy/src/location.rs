//! Location strings `dc.rack.host.vol` and the distance between two of them.

/// Distance between two location strings `dc.rack.host.vol`: number of tokens (of the longer)
/// minus the number of equal leading tokens. Same location → 0; same dc+rack, different host → 2;
/// different dc → 4.
pub fn distance(a: &str, b: &str) -> usize {
    let ta: Vec<&str> = a.split('.').collect();
    let tb: Vec<&str> = b.split('.').collect();
    let common = ta.iter().zip(tb.iter()).take_while(|(x, y)| x == y).count();
    ta.len().max(tb.len()) - common
}

#[cfg(test)]
mod tests {
    use super::distance;

    #[test]
    fn same_location_is_zero() {
        assert_eq!(distance("dc1.r1.h1.v1", "dc1.r1.h1.v1"), 0);
    }

    #[test]
    fn levels() {
        assert_eq!(distance("dc1.r1.h1.v1", "dc1.r1.h1.v2"), 1);
        assert_eq!(distance("dc1.r1.h1.v1", "dc1.r1.h2.v1"), 2);
        assert_eq!(distance("dc1.r1.h1.v1", "dc1.r2.h1.v1"), 3);
        assert_eq!(distance("dc1.r1.h1.v1", "dc2.r1.h1.v1"), 4);
    }

    #[test]
    fn symmetric() {
        let a = "dc1.r1.h1.v1";
        let b = "dc1.r2.h7";
        assert_eq!(distance(a, b), distance(b, a));
    }

    #[test]
    fn different_lengths_use_the_longer() {
        assert_eq!(distance("dc1.r1", "dc1.r1.h1.v1"), 2);
        assert_eq!(distance("dc1", "dc2.r1.h1.v1"), 4);
        assert_eq!(distance("", "dc1.r1.h1.v1"), 4);
    }
}
