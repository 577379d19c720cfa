# Denominator df of fixed-effect t tests for random-slope models (one grouping factor):
# lmerTest 3.1-3 Satterthwaite df and p, pbkrtest 0.5.2 Kenward-Roger SE, df and p
# (summary(fit, ddf = "Kenward-Roger")), with lme4's theta and sigma at its optimum, so the
# formulas can be checked at lme4's own point. R 4.2.2, lme4 1.1-31 (Debian r-cran packages).
#
# Run from a folder holding gpa.csv (never committed) and sim_slopes1234.csv (../); writes
# df_slopes.json and df_slopes_boundary.csv (the data of the two singular fits).
suppressMessages({library(lme4); library(lmerTest); library(pbkrtest); library(jsonlite)})

dump <- function(name, formula, data, reml = TRUE) {
  m <- lmerTest::lmer(formula, data = data, REML = reml)
  s <- summary(m)$coefficients
  out <- list(name = name, formula = paste(deparse(formula), collapse = ""), reml = reml,
              nobs = nobs(m), singular = isSingular(m), theta = unname(getME(m, "theta")),
              sigma = sigma(m), term = rownames(s), estimate = unname(s[, 1]), se = unname(s[, 2]),
              df_satterthwaite = unname(s[, "df"]), p_satterthwaite = unname(s[, "Pr(>|t|)"]))
  if (reml) {   # Kenward-Roger exists for REML fits only
    kr <- summary(m, ddf = "Kenward-Roger")$coefficients
    out$se_kr <- unname(kr[, 2]); out$df_kr <- unname(kr[, "df"]); out$p_kr <- unname(kr[, "Pr(>|t|)"])
  }
  out
}

data(sleepstudy, package = "lme4")
gpa <- read.csv("gpa.csv"); gpa$student <- factor(gpa$student)
sim <- read.csv("sim_slopes1234.csv"); sim$groups <- factor(sim$groups)
# Singular fits: no slope variance in the simulation, so lme4 puts the slope's theta at 0.
set.seed(7)
G <- 12; n <- 5
g <- factor(rep(1:G, each = n)); x <- rnorm(G * n)
y <- 1 + 0.5 * x + rnorm(G, sd = 0.7)[g] + rnorm(G * n, sd = 1)
boundary <- data.frame(y, x, g)
write.csv(boundary, "df_slopes_boundary.csv", row.names = FALSE)

models <- list(
  dump("sleepstudy_slopes", Reaction ~ Days + (Days | Subject), sleepstudy),
  dump("sleepstudy_uncorrelated", Reaction ~ Days + (Days || Subject), sleepstudy),
  dump("sleepstudy_slopes_ml", Reaction ~ Days + (Days | Subject), sleepstudy, reml = FALSE),
  dump("gpa_slopes", gpa ~ occasion + (1 + occasion | student), gpa),
  dump("sim_slopes1234", y ~ x + (1 + x | groups), sim),
  dump("boundary_uncorrelated", y ~ x + (1 + x || g), boundary),
  dump("boundary_slopes", y ~ x + (1 + x | g), boundary),
  dump("boundary_intercept", y ~ x + (1 | g), boundary))
out <- list(models = models, r_version = R.version.string,
            lme4_version = as.character(packageVersion("lme4")),
            lmerTest_version = as.character(packageVersion("lmerTest")),
            pbkrtest_version = as.character(packageVersion("pbkrtest")))
write_json(out, "df_slopes.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
