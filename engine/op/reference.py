"""PyTorch reference of AdaptiveSepConv: differentiable, memory-light.

    out[n,c,y,x] = sum_i sum_j V[n,i,y,x] * H[n,j,y,x] * img[n,c, clampY(y+d(i-r)), clampX(x+d(j-r))]

Forward and backward walk the F rows of taps one at a time over a replicate-padded copy
of the image, so the only buffers are a few image-sized tensors (no F^2-sized unfold).
The backward is written by hand for the same reason.
"""

from __future__ import annotations

import torch


def _row_sum(padded: torch.Tensor, kernel_h: torch.Tensor, row: int, dilation: int,
             height: int, width: int) -> torch.Tensor:
    """sum_j H[j] * img shifted by tap row ``row`` and tap column j (N,C,H,W)."""
    taps = kernel_h.shape[1]
    top = row * dilation
    acc = None
    for j in range(taps):
        left = j * dilation
        term = padded[:, :, top:top + height, left:left + width] * kernel_h[:, j:j + 1]
        acc = term if acc is None else acc.add_(term)
    return acc


def _column_sum(padded: torch.Tensor, kernel_v: torch.Tensor, column: int, dilation: int,
                height: int, width: int) -> torch.Tensor:
    """sum_i V[i] * img shifted by tap row i and tap column ``column`` (N,C,H,W)."""
    taps = kernel_v.shape[1]
    left = column * dilation
    acc = None
    for i in range(taps):
        top = i * dilation
        term = padded[:, :, top:top + height, left:left + width] * kernel_v[:, i:i + 1]
        acc = term if acc is None else acc.add_(term)
    return acc


def _pad(img: torch.Tensor, reach: int) -> torch.Tensor:
    if reach == 0:
        return img
    height, width = img.shape[-2:]
    # Clamped index gather == replicate padding, valid for any reach (F.pad's replicate
    # mode refuses padding wider than the image).
    rows = torch.arange(-reach, height + reach, device=img.device).clamp_(0, height - 1)
    cols = torch.arange(-reach, width + reach, device=img.device).clamp_(0, width - 1)
    return img.index_select(2, rows).index_select(3, cols)


def _unpad_grad(grad_padded: torch.Tensor, reach: int, height: int, width: int) -> torch.Tensor:
    """Backward of :func:`_pad`: fold the border rows/columns back onto the edge pixels."""
    if reach == 0:
        return grad_padded
    device = grad_padded.device
    rows = torch.arange(-reach, height + reach, device=device).clamp_(0, height - 1)
    cols = torch.arange(-reach, width + reach, device=device).clamp_(0, width - 1)
    n, c = grad_padded.shape[:2]
    folded_rows = grad_padded.new_zeros(n, c, height, grad_padded.shape[3])
    folded_rows.index_add_(2, rows, grad_padded)
    grad = grad_padded.new_zeros(n, c, height, width)
    grad.index_add_(3, cols, folded_rows)
    return grad


def sepconv_forward(img: torch.Tensor, kernel_v: torch.Tensor, kernel_h: torch.Tensor,
                    dilation: int) -> torch.Tensor:
    taps = kernel_v.shape[1]
    height, width = img.shape[-2:]
    reach = dilation * (taps - 1) // 2
    padded = _pad(img, reach)
    out = None
    for i in range(taps):
        term = _row_sum(padded, kernel_h, i, dilation, height, width).mul_(kernel_v[:, i:i + 1])
        out = term if out is None else out.add_(term)
    return out


class _AdaptiveSepConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, img, kernel_v, kernel_h, dilation):
        ctx.save_for_backward(img, kernel_v, kernel_h)
        ctx.dilation = dilation
        return sepconv_forward(img, kernel_v, kernel_h, dilation)

    @staticmethod
    def backward(ctx, grad_out):
        img, kernel_v, kernel_h = ctx.saved_tensors
        dilation = ctx.dilation
        taps = kernel_v.shape[1]
        height, width = img.shape[-2:]
        reach = dilation * (taps - 1) // 2
        grad_out = grad_out.contiguous()
        padded = _pad(img, reach)
        grad_img = grad_v = grad_h = None
        if ctx.needs_input_grad[1]:
            # dOut/dV[i] = sum_c grad * (sum_j H[j] * shifted(i, j))
            grad_v = torch.cat([
                (grad_out * _row_sum(padded, kernel_h, i, dilation, height, width)).sum(1, keepdim=True)
                for i in range(taps)], dim=1)
        if ctx.needs_input_grad[2]:
            grad_h = torch.cat([
                (grad_out * _column_sum(padded, kernel_v, j, dilation, height, width)).sum(1, keepdim=True)
                for j in range(taps)], dim=1)
        if ctx.needs_input_grad[0]:
            grad_padded = torch.zeros_like(padded)
            for i in range(taps):
                weighted = grad_out * kernel_v[:, i:i + 1]
                top = i * dilation
                for j in range(taps):
                    left = j * dilation
                    grad_padded[:, :, top:top + height, left:left + width].addcmul_(weighted, kernel_h[:, j:j + 1])
            grad_img = _unpad_grad(grad_padded, reach, height, width)
        return grad_img, grad_v, grad_h, None


def adaptive_sepconv_reference(img: torch.Tensor, kernel_v: torch.Tensor, kernel_h: torch.Tensor,
                               dilation: int = 1) -> torch.Tensor:
    """Differentiable reference; computes in fp32 (or fp64) and returns img's dtype."""
    compute = img.dtype if img.dtype in (torch.float32, torch.float64) else torch.float32
    out = _AdaptiveSepConv.apply(img.to(compute), kernel_v.to(compute), kernel_h.to(compute), dilation)
    return out.to(img.dtype)
