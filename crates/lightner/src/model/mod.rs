//! The model in burn: BART with pluggable prompts and the α-fused pointer head. The backbone's
//! parameters never require gradients; only the prompt generators and head parameters do.

pub mod attention;
pub mod bart;
pub mod batch;
pub mod bert2bert;
pub mod config;
pub mod device;
pub mod kernels;
pub mod label_init;
pub mod layers;
pub mod lightner;
pub mod lora;
pub mod params;
pub mod pointer;
pub mod prompt;
pub mod random;
pub mod source;
pub mod tiny;
pub mod weights;

pub use bart::{Bart, RowOverrides};
pub use config::BartConfig;
pub use lightner::{Batch, Forward, LightNer, Trainable};
pub use pointer::{HeadParams, LabelScoring, PointerHead};
pub use prompt::{PromptShape, Prompts};
pub use weights::Weights;
