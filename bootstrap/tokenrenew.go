package bootstrap

// DefaultTokenRenewalFraction is the share of a member token's lifetime after which it is renewed.
const DefaultTokenRenewalFraction = 0.8
