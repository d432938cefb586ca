//! The shop's scenarios (gimlet-shop's `e2e`) against this binary.

gimlet_shop::scenarios!(env!("CARGO_BIN_EXE_shop-actix"));
