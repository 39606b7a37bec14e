//! Access to the CPU storage of tensors inside backward passes.

use candle_core::{Storage, Tensor, WithDType};

/// Runs `f` on the contiguous CPU data of `tensor` as a slice of `T`.
pub(crate) fn with_slice<T: WithDType, R>(tensor: &Tensor, f: impl FnOnce(&[T]) -> R) -> candle_core::Result<R> {
    let tensor = tensor.contiguous()?;
    let (storage, layout) = tensor.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        return Err(candle_core::Error::Msg(
            "fsl custom kernels run on the CPU only; move tensors to Device::Cpu".into(),
        ));
    };
    let (start, end) = super::max_pool::contiguous_range(layout)?;
    Ok(f(&cpu.as_slice::<T>()?[start..end]))
}
