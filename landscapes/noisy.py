"""Stochastic landscapes: a noisy quadratic, and gradient noise on any landscape.

Both keep the objective consistent within a step: each step draws a sample, and
the loss, gradient and curvature the optimizer sees are all those of that one
sample's function. Newton, the Gauss–Newton methods and re-evaluating rules
(line searches, Levenberg–Marquardt) therefore see the same noise as SGD.

Noisy quadratic (Zhang et al., "Which Algorithmic Choices Matter at Which Batch
Sizes? Insights From a Noisy Quadratic Model", NeurIPS 2019). A minibatch of
size B moves the minimum at random:

    ℓ(θ; c) = ½ (θ − c)ᵀ A (θ − c),   c ~ N(θ*, σ² A⁻¹ / B),

so its gradient A(θ − θ*) + A(θ* − c) carries noise of covariance σ² A / B:
the paper's choice C = A, scaled by σ². ``loss`` is the excess expected loss
½ (θ − θ*)ᵀ A (θ − θ*) (the expectation minus its floor σ² n / 2B).

Gradient noise: ℓ(θ; ξ) = L(θ) + ξᵀθ with ξ ~ N(0, σ² I). A random linear tilt:
the gradient gets the noise ξ, the curvature is untouched.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from landscapes.base import Landscape, pytree_dataclass
from landscapes.quadratic import Quadratic


@pytree_dataclass
class NoisyQuadratic(Landscape):
    quadratic: Quadratic
    noise_scale: float = 0.3  # σ
    batch_size: float = 4.0  # B

    name = "noisy_quadratic"
    title = "Noisy quadratic"
    log_scale = True

    def sample(self, key):
        """c = θ* + (σ/√B) Q diag(λ^{-1/2}) z,  z ~ N(0, I)."""
        q = self.quadratic
        z = jax.random.normal(key, q.minimum.shape)
        scale = self.noise_scale / jnp.sqrt(self.batch_size)
        return q.minimum + q.eigenvectors @ (scale * z / jnp.sqrt(q.eigenvalues))

    def loss(self, theta):
        return self.quadratic.loss(theta)

    def sample_loss(self, theta, sample):
        return 0.5 * jnp.sum(self.residuals(theta, sample) ** 2)

    def residuals(self, theta, sample=None):
        centre = self.quadratic.minimum if sample is None else sample
        q = self.quadratic
        return jnp.sqrt(q.eigenvalues) * ((theta - centre) @ q.eigenvectors)

    def critical_points(self):
        return self.quadratic.critical_points()

    @property
    def dimension(self):
        return self.quadratic.dimension

    @property
    def default_start(self):
        return self.quadratic.default_start

    @property
    def bounds(self):
        return self.quadratic.bounds


def minibatch_quadratic(quadratic: Quadratic, noise_scale: float, batch_size: int) -> Landscape:
    """A quadratic seen through minibatches: Zhang et al.'s noisy quadratic, c ~ N(θ*, σ²A⁻¹/B), where A is
    positive definite; where A⁻¹ does not exist (a saddle), a gradient-noise tilt of scale σ/√B instead."""
    if noise_scale <= 0:
        return quadratic
    if float(jnp.min(quadratic.eigenvalues)) <= 0:
        return WithGradientNoise(quadratic, noise_scale / float(batch_size) ** 0.5)
    return NoisyQuadratic(quadratic, noise_scale, float(batch_size))


@pytree_dataclass
class WithGradientNoise(Landscape):
    """Any landscape, with a random linear tilt ξᵀθ, ξ ~ N(0, σ² I), on each step."""

    landscape: Landscape
    gradient_noise: float  # σ

    def sample(self, key):
        inner_key, tilt_key = jax.random.split(key)
        tilt = self.gradient_noise * jax.random.normal(tilt_key, (self.dimension,))
        return self.landscape.sample(inner_key), tilt

    def loss(self, theta):
        return self.landscape.loss(theta)

    def sample_loss(self, theta, sample):
        inner_sample, tilt = sample
        return self.landscape.sample_loss(theta, inner_sample) + jnp.dot(tilt, theta)

    def residuals(self, theta, sample=None):
        return self.landscape.residuals(theta, None if sample is None else sample[0])

    @property
    def has_residuals(self):
        return self.landscape.has_residuals

    # Everything the app draws is the underlying landscape's.
    name = property(lambda self: self.landscape.name)
    title = property(lambda self: self.landscape.title)
    log_scale = property(lambda self: self.landscape.log_scale)
    critical_points = property(lambda self: self.landscape.critical_points)
    dimension = property(lambda self: self.landscape.dimension)
    default_start = property(lambda self: self.landscape.default_start)
    bounds = property(lambda self: self.landscape.bounds)
