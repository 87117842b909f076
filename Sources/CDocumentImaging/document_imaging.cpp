// Document imaging on OpenCV: finding a page's corners, flattening it, measuring a scan's skew and a page's content.
#include "ck_document_imaging.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace {

constexpr double pi = 3.14159265358979323846;

bool valid(const ck_doc_image &image) {
    return image.pixels != nullptr && image.width > 0 && image.height > 0 && (image.channels == 1 || image.channels == 3)
        && image.stride >= static_cast<size_t>(image.width) * static_cast<size_t>(image.channels);
}

cv::Mat wrap(const ck_doc_image &image) {
    return cv::Mat(image.height, image.width, image.channels == 3 ? CV_8UC3 : CV_8UC1, const_cast<uint8_t *>(image.pixels), image.stride);
}

cv::Mat wrap(const ck_doc_output &output) {
    return cv::Mat(output.height, output.width, output.channels == 3 ? CV_8UC3 : CV_8UC1, output.pixels, output.stride);
}

/// The image shrunk so that its longer side is at most `side` (INTER_AREA), and the factor from it back to the image.
cv::Mat shrink(const cv::Mat &image, int side, double &back) {
    const int longer = std::max(image.cols, image.rows);
    if (longer <= side) {
        back = 1;
        return image;
    }
    back = static_cast<double>(longer) / side;
    cv::Mat small;
    cv::resize(image, small, cv::Size(static_cast<int>(std::lround(image.cols / back)), static_cast<int>(std::lround(image.rows / back))), 0, 0,
               cv::INTER_AREA);
    return small;
}

/// The image shrunk by a whole factor so that its longer side is about `side` (at most 1.5 `side`; INTER_AREA over
/// whole blocks, which OpenCV does several times faster than a fractional factor), and the factor back.
cv::Mat shrinkWhole(const cv::Mat &image, int side, double &back) {
    const int factor = std::max(1, static_cast<int>(std::lround(static_cast<double>(std::max(image.cols, image.rows)) / side)));
    back = factor;
    if (factor == 1) return image;
    cv::Mat small;
    cv::resize(image, small, cv::Size(image.cols / factor, image.rows / factor), 0, 0, cv::INTER_AREA);
    // The few rows and columns past the last whole block are left out; the factor back stays exact.
    return small;
}

/// Corners ordered top-left, top-right, bottom-right, bottom-left as the page lies upright: clockwise around their
/// centre, starting from the one nearest the upper left direction.
std::array<cv::Point2d, 4> ordered(const std::vector<cv::Point2d> &points) {
    cv::Point2d centre(0, 0);
    for (const auto &point : points) centre += point * 0.25;
    std::vector<std::pair<double, cv::Point2d>> around;
    for (const auto &point : points) around.emplace_back(std::atan2(point.y - centre.y, point.x - centre.x), point);
    std::sort(around.begin(), around.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
    const double ideal[4] = {-0.75 * pi, -0.25 * pi, 0.25 * pi, 0.75 * pi};
    int best = 0;
    double bestCost = 1e18;
    for (int start = 0; start < 4; ++start) {
        double cost = 0;
        for (int k = 0; k < 4; ++k) {
            double difference = std::fabs(around[(start + k) % 4].first - ideal[k]);
            difference = std::min(difference, 2 * pi - difference);
            cost += difference * difference;
        }
        if (cost < bestCost) {
            bestCost = cost;
            best = start;
        }
    }
    std::array<cv::Point2d, 4> result;
    for (int k = 0; k < 4; ++k) result[k] = around[(best + k) % 4].second;
    return result;
}

/// The largest per-pixel gradient magnitude over the channels of a small Lab image, 0…255.
cv::Mat gradientMagnitude(const cv::Mat &lab) {
    std::vector<cv::Mat> channels;
    cv::split(lab, channels);
    cv::Mat strongest = cv::Mat::zeros(lab.size(), CV_32F);
    for (size_t index = 0; index < channels.size(); ++index) {
        cv::Mat dx, dy, magnitude;
        cv::Sobel(channels[index], dx, CV_32F, 1, 0, 3);
        cv::Sobel(channels[index], dy, CV_32F, 0, 1, 3);
        cv::magnitude(dx, dy, magnitude);
        // Colour channels carry less contrast than lightness on a page's edge: weigh them up.
        if (index > 0) magnitude *= 1.6;
        strongest = cv::max(strongest, magnitude);
    }
    cv::Mat scaled;
    strongest.convertTo(scaled, CV_8U, 0.25);
    return scaled;
}

/// How much of a quadrilateral's outline runs along strong edges: the share of points on its sides with a gradient
/// above `threshold` within a pixel of the side.
double edgeSupport(const cv::Mat &gradient, const std::array<cv::Point2d, 4> &quad, int threshold) {
    int supported = 0, total = 0;
    for (int side = 0; side < 4; ++side) {
        const cv::Point2d a = quad[side], b = quad[(side + 1) % 4];
        const double length = cv::norm(b - a);
        const int steps = std::max(8, static_cast<int>(length / 2));
        for (int step = 1; step < steps; ++step) {
            const cv::Point2d point = a + (b - a) * (static_cast<double>(step) / steps);
            ++total;
            bool strong = false;
            for (int dy = -1; dy <= 1 && !strong; ++dy) {
                for (int dx = -1; dx <= 1 && !strong; ++dx) {
                    const int x = static_cast<int>(std::lround(point.x)) + dx, y = static_cast<int>(std::lround(point.y)) + dy;
                    if (x >= 0 && y >= 0 && x < gradient.cols && y < gradient.rows && gradient.at<uint8_t>(y, x) >= threshold) strong = true;
                }
            }
            if (strong) ++supported;
        }
    }
    return total == 0 ? 0 : static_cast<double>(supported) / total;
}

/// Four-cornered convex outlines of a contour set, each as its corners.
void quadrilaterals(const std::vector<std::vector<cv::Point>> &contours, double minArea, std::vector<std::array<cv::Point2d, 4>> &found) {
    for (const auto &contour : contours) {
        if (cv::contourArea(contour) < minArea) continue;
        std::vector<cv::Point> hull;
        cv::convexHull(contour, hull);
        const double perimeter = cv::arcLength(hull, true);
        for (double epsilon = 0.01; epsilon <= 0.1; epsilon += 0.01) {
            std::vector<cv::Point> polygon;
            cv::approxPolyDP(hull, polygon, epsilon * perimeter, true);
            if (polygon.size() < 4) break;
            if (polygon.size() == 4 && cv::isContourConvex(polygon) && cv::contourArea(polygon) >= minArea) {
                found.push_back(ordered({cv::Point2d(polygon[0]), cv::Point2d(polygon[1]), cv::Point2d(polygon[2]), cv::Point2d(polygon[3])}));
                break;
            }
        }
        // A page whose corner is cut by the frame or a finger still has a minimum-area rectangle.
        const cv::RotatedRect box = cv::minAreaRect(hull);
        cv::Point2f corners[4];
        box.points(corners);
        if (box.size.area() >= minArea && cv::contourArea(hull) > 0.9 * box.size.area()) {
            found.push_back(ordered({cv::Point2d(corners[0]), cv::Point2d(corners[1]), cv::Point2d(corners[2]), cv::Point2d(corners[3])}));
        }
    }
}

/// Interior angles between 45° and 135°, and no side shorter than a tenth of the longest.
bool plausible(const std::array<cv::Point2d, 4> &quad) {
    double longest = 0, shortest = 1e18;
    for (int k = 0; k < 4; ++k) {
        const cv::Point2d a = quad[(k + 3) % 4] - quad[k], b = quad[(k + 1) % 4] - quad[k];
        const double cosine = a.dot(b) / (cv::norm(a) * cv::norm(b) + 1e-9);
        if (std::fabs(cosine) > std::cos(45.0 * pi / 180)) return false;
        longest = std::max(longest, cv::norm(b));
        shortest = std::min(shortest, cv::norm(b));
    }
    return shortest > 0.1 * longest;
}

/// Brightness-weighted difference of the three channels at a sub-pixel point (bilinear).
inline void sample(const cv::Mat &image, double x, double y, float out[3]) {
    x = std::clamp(x, 0.0, image.cols - 1.001);
    y = std::clamp(y, 0.0, image.rows - 1.001);
    const int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
    const double fx = x - x0, fy = y - y0;
    const int channels = image.channels();
    for (int c = 0; c < 3; ++c) {
        const int k = channels == 3 ? c : 0;
        const double top = image.ptr<uint8_t>(y0)[x0 * channels + k] * (1 - fx) + image.ptr<uint8_t>(y0)[(x0 + 1) * channels + k] * fx;
        const double bottom = image.ptr<uint8_t>(y0 + 1)[x0 * channels + k] * (1 - fx) + image.ptr<uint8_t>(y0 + 1)[(x0 + 1) * channels + k] * fx;
        out[c] = static_cast<float>(top * (1 - fy) + bottom * fy);
    }
}

/// Moves each side of `quad` onto the strongest colour edge within `radius` pixels of it, in the full image, and
/// intersects the fitted lines again. Sides with too few edge points stay where they were.
std::array<cv::Point2d, 4> refine(const cv::Mat &image, const std::array<cv::Point2d, 4> &quad, double radius) {
    std::array<cv::Vec4f, 4> lines;
    for (int side = 0; side < 4; ++side) {
        const cv::Point2d a = quad[side], b = quad[(side + 1) % 4];
        const cv::Point2d direction = (b - a) * (1.0 / (cv::norm(b - a) + 1e-9));
        const cv::Point2d normal(-direction.y, direction.x);
        std::vector<cv::Point2f> points;
        const int samples = 48;
        const int reach = std::max(2, static_cast<int>(std::ceil(radius)));
        std::vector<float> profile(3 * (2 * reach + 1));
        for (int step = 2; step < samples - 2; ++step) {
            const cv::Point2d base = a + (b - a) * (static_cast<double>(step) / samples);
            for (int offset = -reach; offset <= reach; ++offset) {
                const cv::Point2d point = base + normal * offset;
                sample(image, point.x, point.y, &profile[3 * (offset + reach)]);
            }
            double bestStrength = 0;
            int bestAt = -1;
            std::vector<double> strengths(2 * reach + 1, 0);
            for (int index = 1; index < 2 * reach; ++index) {
                double strength = 0;
                for (int c = 0; c < 3; ++c) strength += std::fabs(profile[3 * (index + 1) + c] - profile[3 * (index - 1) + c]);
                strengths[index] = strength;
                if (strength > bestStrength) {
                    bestStrength = strength;
                    bestAt = index;
                }
            }
            if (bestAt <= 0 || bestStrength < 30) continue;
            // Sub-pixel: the vertex of the parabola through the peak and its neighbours.
            double shift = 0;
            if (bestAt > 1 && bestAt < 2 * reach - 1) {
                const double left = strengths[bestAt - 1], right = strengths[bestAt + 1], denominator = left - 2 * bestStrength + right;
                if (std::fabs(denominator) > 1e-9) shift = std::clamp(0.5 * (left - right) / denominator, -0.5, 0.5);
            }
            const cv::Point2d edge = base + normal * (bestAt - reach + shift);
            points.emplace_back(static_cast<float>(edge.x), static_cast<float>(edge.y));
        }
        if (points.size() < 12) {
            lines[side] = cv::Vec4f(static_cast<float>(direction.x), static_cast<float>(direction.y), static_cast<float>(a.x), static_cast<float>(a.y));
            continue;
        }
        cv::fitLine(points, lines[side], cv::DIST_HUBER, 0, 0.01, 0.01);
    }
    std::array<cv::Point2d, 4> result;
    for (int corner = 0; corner < 4; ++corner) {
        const cv::Vec4f &first = lines[(corner + 3) % 4], &second = lines[corner];
        const double cross = first[0] * second[1] - first[1] * second[0];
        if (std::fabs(cross) < 1e-6) return quad;
        const double t = ((second[2] - first[2]) * second[1] - (second[3] - first[3]) * second[0]) / cross;
        result[corner] = cv::Point2d(first[2] + t * first[0], first[3] + t * first[1]);
        if (cv::norm(result[corner] - quad[corner]) > 4 * radius + 2) return quad;
    }
    return result;
}

}  // namespace

extern "C" int ck_doc_detect_page(ck_doc_image image, double corners[8], double *confidence) {
    if (!valid(image) || corners == nullptr || confidence == nullptr) return CK_DOC_BAD_INPUT;
    try {
        const cv::Mat full = wrap(image);
        double back = 1;
        const cv::Mat small = shrink(full, 640, back);
        cv::Mat color;
        if (small.channels() == 1) cv::cvtColor(small, color, cv::COLOR_GRAY2RGB); else color = small;
        cv::Mat smooth, lab;
        cv::medianBlur(color, smooth, 5);
        cv::cvtColor(smooth, lab, cv::COLOR_RGB2Lab);
        const cv::Mat gradient = gradientMagnitude(lab);
        const double minArea = 0.08 * small.cols * small.rows;

        std::vector<std::array<cv::Point2d, 4>> candidates;
        std::vector<std::vector<cv::Point>> contours;
        // Edges: the strongest colour gradients (Otsu on the gradient), closed into outlines.
        cv::Mat edges;
        cv::threshold(gradient, edges, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
        cv::morphologyEx(edges, edges, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(5, 5)));
        cv::findContours(edges, contours, cv::RETR_LIST, cv::CHAIN_APPROX_SIMPLE);
        quadrilaterals(contours, minArea, candidates);
        // Canny on lightness, for pages on backgrounds of the same colour but another brightness.
        std::vector<cv::Mat> channels;
        cv::split(lab, channels);
        for (double high : {60.0, 120.0}) {
            cv::Canny(channels[0], edges, high / 2, high);
            cv::dilate(edges, edges, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(3, 3)));
            contours.clear();
            cv::findContours(edges, contours, cv::RETR_LIST, cv::CHAIN_APPROX_SIMPLE);
            quadrilaterals(contours, minArea, candidates);
        }
        // Paper: bright and nearly colourless, against whatever the desk is.
        cv::Mat chroma, paper;
        cv::Mat a, b;
        channels[1].convertTo(a, CV_32F, 1, -128);
        channels[2].convertTo(b, CV_32F, 1, -128);
        cv::magnitude(a, b, chroma);
        cv::Mat lightness;
        channels[0].convertTo(lightness, CV_32F);
        cv::Mat whiteness = lightness - 2 * chroma;
        cv::normalize(whiteness, whiteness, 0, 255, cv::NORM_MINMAX);
        whiteness.convertTo(paper, CV_8U);
        cv::threshold(paper, paper, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
        cv::morphologyEx(paper, paper, cv::MORPH_OPEN, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(5, 5)));
        cv::morphologyEx(paper, paper, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(15, 15)));
        contours.clear();
        cv::findContours(paper, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
        quadrilaterals(contours, minArea, candidates);

        // The best: the most of its outline on strong edges, larger ones preferred; the whole frame is not a page.
        cv::Mat edgeStrength;
        const int threshold = std::max(8, static_cast<int>(cv::threshold(gradient, edgeStrength, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU) * 0.6));
        double bestScore = 0, bestSupport = 0;
        std::array<cv::Point2d, 4> best{};
        for (const auto &quad : candidates) {
            if (!plausible(quad)) continue;
            std::vector<cv::Point2f> polygon;
            for (const auto &point : quad) polygon.emplace_back(static_cast<float>(point.x), static_cast<float>(point.y));
            const double fraction = cv::contourArea(polygon) / (small.cols * small.rows);
            if (fraction > 0.98) continue;
            const double support = edgeSupport(gradient, quad, threshold);
            const double score = support * (0.6 + 0.4 * std::sqrt(fraction));
            if (score > bestScore) {
                bestScore = score;
                bestSupport = support;
                best = quad;
            }
        }
        if (bestSupport < 0.5) return CK_DOC_NOT_FOUND;
        // Back to the full image, then onto the edges there: first within a few pixels of the small image, then closer.
        for (auto &point : best) point = cv::Point2d((point.x + 0.5) * back - 0.5, (point.y + 0.5) * back - 0.5);
        best = refine(full, best, 3 * back + 2);
        best = refine(full, best, 1.5 * back + 2);
        best = ordered({best[0], best[1], best[2], best[3]});
        for (int k = 0; k < 4; ++k) {
            corners[2 * k] = best[k].x;
            corners[2 * k + 1] = best[k].y;
        }
        *confidence = std::clamp(bestSupport, 0.0, 1.0);
        return CK_DOC_OK;
    } catch (...) {
        return CK_DOC_FAILED;
    }
}

extern "C" int ck_doc_warp(ck_doc_image image, const double corners[8], double inset, ck_doc_output output) {
    if (!valid(image) || corners == nullptr || output.pixels == nullptr || output.width <= 0 || output.height <= 0
        || output.channels != image.channels || output.stride < static_cast<size_t>(output.width) * output.channels) return CK_DOC_BAD_INPUT;
    try {
        const cv::Point2f from[4] = {
            {static_cast<float>(corners[0]), static_cast<float>(corners[1])}, {static_cast<float>(corners[2]), static_cast<float>(corners[3])},
            {static_cast<float>(corners[4]), static_cast<float>(corners[5])}, {static_cast<float>(corners[6]), static_cast<float>(corners[7])}};
        // The page's outline lands `inset` pixels outside the output on every side: the output is its inside.
        const float low = -0.5f - static_cast<float>(inset), right = output.width - 0.5f + static_cast<float>(inset),
                    bottom = output.height - 0.5f + static_cast<float>(inset);
        const cv::Point2f to[4] = {{low, low}, {right, low}, {right, bottom}, {low, bottom}};
        cv::Mat destination = wrap(output);
        cv::warpPerspective(wrap(image), destination, cv::getPerspectiveTransform(from, to), destination.size(), cv::INTER_LINEAR,
                            cv::BORDER_REPLICATE);
        return CK_DOC_OK;
    } catch (...) {
        return CK_DOC_FAILED;
    }
}

extern "C" int ck_doc_place(ck_doc_image page, const double corners[8], ck_doc_output scene) {
    if (!valid(page) || corners == nullptr || scene.pixels == nullptr || scene.width <= 0 || scene.height <= 0
        || scene.channels != page.channels || scene.stride < static_cast<size_t>(scene.width) * scene.channels) return CK_DOC_BAD_INPUT;
    try {
        const cv::Point2f from[4] = {{-0.5f, -0.5f}, {page.width - 0.5f, -0.5f}, {page.width - 0.5f, page.height - 0.5f}, {-0.5f, page.height - 0.5f}};
        const cv::Point2f to[4] = {
            {static_cast<float>(corners[0]), static_cast<float>(corners[1])}, {static_cast<float>(corners[2]), static_cast<float>(corners[3])},
            {static_cast<float>(corners[4]), static_cast<float>(corners[5])}, {static_cast<float>(corners[6]), static_cast<float>(corners[7])}};
        cv::Mat destination = wrap(scene);
        cv::warpPerspective(wrap(page), destination, cv::getPerspectiveTransform(from, to), destination.size(), cv::INTER_LINEAR,
                            cv::BORDER_TRANSPARENT);
        return CK_DOC_OK;
    } catch (...) {
        return CK_DOC_FAILED;
    }
}

extern "C" int ck_doc_skew(ck_doc_image image, double max_degrees, double *degrees) {
    if (!valid(image) || degrees == nullptr || !(max_degrees > 0 && max_degrees <= 45)) return CK_DOC_BAD_INPUT;
    try {
        double back = 1;
        cv::Mat small = shrinkWhole(wrap(image), 1200, back), gray, ink;
        if (small.channels() == 3) cv::cvtColor(small, gray, cv::COLOR_RGB2GRAY); else gray = small;
        cv::adaptiveThreshold(gray, ink, 255, cv::ADAPTIVE_THRESH_MEAN_C, cv::THRESH_BINARY_INV, 25, 25);
        // The marks near the edges are the bed and the page's border, not its lines.
        const int marginX = gray.cols / 25, marginY = gray.rows / 25;
        std::vector<cv::Point2f> points;
        for (int y = marginY; y < gray.rows - marginY; ++y) {
            const uint8_t *row = ink.ptr<uint8_t>(y);
            for (int x = marginX; x < gray.cols - marginX; ++x) {
                if (row[x]) points.emplace_back(static_cast<float>(x), static_cast<float>(y));
            }
        }
        if (points.size() < 200) return CK_DOC_NOT_FOUND;
        if (points.size() > 150000) {
            std::vector<cv::Point2f> kept;
            const size_t stride = points.size() / 150000 + 1;
            for (size_t index = 0; index < points.size(); index += stride) kept.push_back(points[index]);
            points.swap(kept);
        }
        const double cx = gray.cols / 2.0, cy = gray.rows / 2.0;
        const int bins = static_cast<int>(std::hypot(gray.cols, gray.rows)) + 2;
        std::vector<double> histogram(bins);
        // Sharpness of the projection along angle θ: lines of text make tall, narrow peaks when θ is their angle.
        auto sharpness = [&](double theta) {
            std::fill(histogram.begin(), histogram.end(), 0.0);
            const double s = std::sin(theta * pi / 180), c = std::cos(theta * pi / 180);
            for (const auto &point : points) {
                const int bin = static_cast<int>((point.y - cy) * c + (point.x - cx) * s + bins / 2);
                if (bin >= 0 && bin < bins) histogram[bin] += 1;
            }
            double sum = 0;
            for (double count : histogram) sum += count * count;
            return sum;
        };
        // Every angle of a sweep is scored on its own (in parallel, each with its own histogram); the best wins.
        auto sweep = [&](double from, double to, double step, double &best, double &bestScore) {
            std::vector<double> angles;
            for (double theta = from; theta <= to + 1e-9; theta += step) angles.push_back(theta);
            std::vector<double> scores(angles.size());
            cv::parallel_for_(cv::Range(0, static_cast<int>(angles.size())), [&](const cv::Range &range) {
                std::vector<double> local(bins);
                for (int k = range.start; k < range.end; ++k) {
                    std::fill(local.begin(), local.end(), 0.0);
                    const double s = std::sin(angles[k] * pi / 180), c = std::cos(angles[k] * pi / 180);
                    for (const auto &point : points) {
                        const int bin = static_cast<int>((point.y - cy) * c + (point.x - cx) * s + bins / 2);
                        if (bin >= 0 && bin < bins) local[bin] += 1;
                    }
                    double sum = 0;
                    for (double count : local) sum += count * count;
                    scores[k] = sum;
                }
            });
            for (size_t k = 0; k < angles.size(); ++k) {
                if (scores[k] > bestScore) {
                    bestScore = scores[k];
                    best = angles[k];
                }
            }
        };
        double best = 0, bestScore = -1;
        sweep(-max_degrees, max_degrees, 0.5, best, bestScore);
        const double coarse = best;
        sweep(coarse - 0.5, coarse + 0.5, 0.05, best, bestScore);
        // A page with no lines scores the same at every angle: then there is no skew to tell.
        const double flat = sharpness(best + 20 > max_degrees ? best - 20 : best + 20);
        if (bestScore < 1.15 * flat) return CK_DOC_NOT_FOUND;
        *degrees = best;
        return CK_DOC_OK;
    } catch (...) {
        return CK_DOC_FAILED;
    }
}

extern "C" int ck_doc_rotate(ck_doc_image image, double degrees, uint8_t fill, ck_doc_output output) {
    if (!valid(image) || output.pixels == nullptr || output.width != image.width || output.height != image.height
        || output.channels != image.channels || output.stride < static_cast<size_t>(output.width) * output.channels) return CK_DOC_BAD_INPUT;
    try {
        cv::Mat destination = wrap(output);
        const cv::Mat rotation = cv::getRotationMatrix2D(cv::Point2f(image.width / 2.0f - 0.5f, image.height / 2.0f - 0.5f), degrees, 1.0);
        cv::warpAffine(wrap(image), destination, rotation, destination.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                       cv::Scalar(fill, fill, fill));
        return CK_DOC_OK;
    } catch (...) {
        return CK_DOC_FAILED;
    }
}

namespace {
bool sameSize(const ck_doc_image &image, const ck_doc_output &output, int channels) {
    return output.pixels != nullptr && output.width == image.width && output.height == image.height && output.channels == channels
        && output.stride >= static_cast<size_t>(output.width) * output.channels;
}

/// The paper under each pixel of `plane`: text, rules and stamps are thinner than the closing, so only the paper's
/// own tone and the light on it survive.
cv::Mat paperOf(const cv::Mat &plane) {
    double back = 1;
    cv::Mat small = shrinkWhole(plane, 512, back).clone();
    const int side = std::max(3, (std::max(small.cols, small.rows) / 40) | 1);
    cv::morphologyEx(small, small, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(side, side)));
    cv::GaussianBlur(small, small, cv::Size(0, 0), side / 2.0);
    cv::Mat paper;
    cv::resize(small, paper, plane.size(), 0, 0, cv::INTER_LINEAR);
    return paper;
}
}  // namespace

extern "C" int ck_doc_clean(ck_doc_image image, ck_doc_output output) {
    if (!valid(image) || !sameSize(image, output, image.channels)) return CK_DOC_BAD_INPUT;
    try {
        std::vector<cv::Mat> planes;
        cv::split(wrap(image), planes);
        // One lookup for the final tone curve: after division the paper is near 1.0; 0.92 and above become white,
        // below that the tones are stretched so that ink keeps its depth.
        cv::Mat curve(1, 256, CV_8U);
        for (int value = 0; value < 256; ++value) {
            const double level = value / 255.0 / 0.92;
            curve.at<uint8_t>(value) = cv::saturate_cast<uint8_t>(std::pow(std::min(level, 1.0), 1.2) * 255.0);
        }
        for (cv::Mat &plane : planes) {
            const cv::Mat paper = paperOf(plane);
            cv::Mat flat;
            cv::divide(plane, cv::max(paper, 1), flat, 255.0, CV_8U);
            cv::LUT(flat, curve, plane);
        }
        cv::Mat destination = wrap(output);
        cv::merge(planes, destination);
        return CK_DOC_OK;
    } catch (...) {
        return CK_DOC_FAILED;
    }
}

extern "C" int ck_doc_binarize(ck_doc_image image, ck_doc_output output) {
    if (!valid(image) || !sameSize(image, output, 1)) return CK_DOC_BAD_INPUT;
    try {
        cv::Mat gray;
        if (image.channels == 3) cv::cvtColor(wrap(image), gray, cv::COLOR_RGB2GRAY); else gray = wrap(image);
        const cv::Mat paper = paperOf(gray);
        // Ink: at least 18 % darker than the paper under it; light noise and show-through stay white.
        cv::Mat ratio;
        cv::divide(gray, cv::max(paper, 1), ratio, 255.0, CV_8U);
        cv::Mat destination = wrap(output);
        cv::threshold(ratio, destination, 0.82 * 255, 255, cv::THRESH_BINARY);
        return CK_DOC_OK;
    } catch (...) {
        return CK_DOC_FAILED;
    }
}

namespace {
/// The page's rectangle in a small straight scan (see ck_doc_scan_bounds), or an empty one.
cv::Rect boundsOn(const cv::Mat &small) {
    cv::Mat color;
    if (small.channels() == 1) cv::cvtColor(small, color, cv::COLOR_GRAY2RGB); else color = small.clone();
    cv::medianBlur(color, color, 5);
    // The bed: the median of each channel along a border a fiftieth of the image wide.
    const int band = std::max(2, std::min(color.cols, color.rows) / 50);
    std::vector<uint8_t> samples[3];
    for (int y = 0; y < color.rows; ++y) {
        const cv::Vec3b *row = color.ptr<cv::Vec3b>(y);
        const bool edgeRow = y < band || y >= color.rows - band;
        for (int x = 0; x < color.cols; ++x) {
            if (!edgeRow && x >= band && x < color.cols - band) {
                x = color.cols - band - 1;
                continue;
            }
            for (int c = 0; c < 3; ++c) samples[c].push_back(row[x][c]);
        }
    }
    cv::Scalar bed;
    for (int c = 0; c < 3; ++c) {
        std::nth_element(samples[c].begin(), samples[c].begin() + samples[c].size() / 2, samples[c].end());
        bed[c] = samples[c][samples[c].size() / 2];
    }
    cv::Mat difference;
    cv::absdiff(color, bed, difference);
    std::vector<cv::Mat> planes;
    cv::split(difference, planes);
    cv::Mat most = cv::max(cv::max(planes[0], planes[1]), planes[2]);
    cv::Mat page = most > 24;
    cv::morphologyEx(page, page, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(9, 9)));
    cv::morphologyEx(page, page, cv::MORPH_OPEN, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(5, 5)));
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(page, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    double largest = 0;
    cv::Rect bounds;
    for (const auto &contour : contours) {
        const double area = cv::contourArea(contour);
        if (area > largest) {
            largest = area;
            bounds = cv::boundingRect(contour);
        }
    }
    const double whole = static_cast<double>(color.cols) * color.rows;
    if (largest < 0.05 * whole || bounds.area() > 0.97 * whole) return cv::Rect();
    return bounds;
}

/// `bounds` of a shrunk image in the full image's pixels (`width` x `height`), widened to whole pixels.
void fullRectangle(const cv::Rect &bounds, double back, int width, int height, int rectangle[4]) {
    const int x0 = std::max(0, static_cast<int>(std::floor(bounds.x * back))), y0 = std::max(0, static_cast<int>(std::floor(bounds.y * back)));
    const int x1 = std::min(width, static_cast<int>(std::ceil((bounds.x + bounds.width) * back)));
    const int y1 = std::min(height, static_cast<int>(std::ceil((bounds.y + bounds.height) * back)));
    rectangle[0] = x0;
    rectangle[1] = y0;
    rectangle[2] = x1 - x0;
    rectangle[3] = y1 - y0;
}

cv::Mat rotation(int width, int height, double degrees) {
    return cv::getRotationMatrix2D(cv::Point2f(width / 2.0f - 0.5f, height / 2.0f - 0.5f), degrees, 1.0);
}
}  // namespace

extern "C" int ck_doc_scan_bounds(ck_doc_image image, double degrees, int rectangle[4]) {
    if (!valid(image) || rectangle == nullptr) return CK_DOC_BAD_INPUT;
    try {
        double back = 1;
        cv::Mat small = shrinkWhole(wrap(image), 800, back);
        if (degrees != 0) {
            // Turned as the full image will be, about the same centre (in the small image's pixels).
            cv::Mat turned;
            cv::Mat matrix = rotation(image.width, image.height, degrees);
            matrix.at<double>(0, 2) /= back;
            matrix.at<double>(1, 2) /= back;
            cv::warpAffine(small, turned, matrix, small.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
            small = turned;
        }
        const cv::Rect bounds = boundsOn(small);
        if (bounds.empty()) return CK_DOC_NOT_FOUND;
        fullRectangle(bounds, back, image.width, image.height, rectangle);
        return CK_DOC_OK;
    } catch (...) {
        return CK_DOC_FAILED;
    }
}

extern "C" int ck_doc_rotate_region(ck_doc_image image, double degrees, int x, int y, ck_doc_output output) {
    if (!valid(image) || output.pixels == nullptr || output.width <= 0 || output.height <= 0 || output.channels != image.channels
        || output.stride < static_cast<size_t>(output.width) * output.channels) return CK_DOC_BAD_INPUT;
    try {
        cv::Mat destination = wrap(output);
        cv::Mat matrix = rotation(image.width, image.height, degrees);
        matrix.at<double>(0, 2) -= x;
        matrix.at<double>(1, 2) -= y;
        cv::warpAffine(wrap(image), destination, matrix, destination.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
        return CK_DOC_OK;
    } catch (...) {
        return CK_DOC_FAILED;
    }
}

extern "C" int ck_doc_gray(ck_doc_image image, ck_doc_output output) {
    if (!valid(image) || !sameSize(image, output, 1)) return CK_DOC_BAD_INPUT;
    try {
        cv::Mat destination = wrap(output);
        if (image.channels == 3) cv::cvtColor(wrap(image), destination, cv::COLOR_RGB2GRAY); else wrap(image).copyTo(destination);
        return CK_DOC_OK;
    } catch (...) {
        return CK_DOC_FAILED;
    }
}

extern "C" int ck_doc_resize(ck_doc_image image, ck_doc_output output) {
    if (!valid(image) || output.pixels == nullptr || output.width <= 0 || output.height <= 0 || output.channels != image.channels
        || output.stride < static_cast<size_t>(output.width) * output.channels) return CK_DOC_BAD_INPUT;
    try {
        cv::Mat destination = wrap(output);
        const bool shrinking = output.width < image.width || output.height < image.height;
        cv::resize(wrap(image), destination, destination.size(), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
        return CK_DOC_OK;
    } catch (...) {
        return CK_DOC_FAILED;
    }
}

extern "C" int ck_doc_content_of(ck_doc_image image, ck_doc_content *content) {
    if (!valid(image) || content == nullptr) return CK_DOC_BAD_INPUT;
    try {
        double back = 1;
        const cv::Mat small = shrinkWhole(wrap(image), 1000, back);
        const cv::Rect inner(small.cols * 3 / 100, small.rows * 3 / 100, small.cols - 2 * (small.cols * 3 / 100),
                             small.rows - 2 * (small.rows * 3 / 100));
        cv::Mat color;
        if (small.channels() == 1) cv::cvtColor(small, color, cv::COLOR_GRAY2RGB); else color = small;
        cv::Mat lab;
        cv::cvtColor(color(inner), lab, cv::COLOR_RGB2Lab);
        std::vector<cv::Mat> channels;
        cv::split(lab, channels);
        // The paper's own tone, wherever it is: a wide median of the lightness (uneven light and grain fall in it).
        cv::Mat paper;
        cv::Mat shrunk;
        cv::resize(channels[0], shrunk, cv::Size(), 0.25, 0.25, cv::INTER_AREA);
        cv::medianBlur(shrunk, shrunk, 15);
        cv::resize(shrunk, paper, channels[0].size(), 0, 0, cv::INTER_LINEAR);
        cv::Mat darker;
        cv::subtract(paper, channels[0], darker);
        // Ink: well darker than the paper around it (faint show-through from the back is not), specks removed.
        cv::Mat ink = darker > 45;
        cv::Mat labels, stats, centroids;
        const int count = cv::connectedComponentsWithStats(ink, labels, stats, centroids, 8);
        const int speck = std::max(4, static_cast<int>(inner.area() / 250000));
        int marks = 0, largest = 0;
        long inked = 0;
        for (int label = 1; label < count; ++label) {
            const int area = stats.at<int>(label, cv::CC_STAT_AREA);
            if (area < speck) continue;
            ++marks;
            inked += area;
            largest = std::max(largest, area);
        }
        // Strong colour (a seal), opened so that single coloured pixels of noise do not count.
        cv::Mat a, b, chroma;
        channels[1].convertTo(a, CV_32F, 1, -128);
        channels[2].convertTo(b, CV_32F, 1, -128);
        cv::magnitude(a, b, chroma);
        cv::Mat colourful = chroma > 28;
        cv::morphologyEx(colourful, colourful, cv::MORPH_OPEN, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(3, 3)));
        // Mid tones in areas (a photo), measured against the paper's brightness over a third of the page (a brightest
        // filter, so that a photo does not become its own paper), and not along the edges of strokes (which the
        // shrinking blurs into mid tones): eroded.
        cv::Mat wide;
        cv::resize(channels[0], wide, cv::Size(), 0.125, 0.125, cv::INTER_AREA);
        const int reach = std::max(3, (std::min(wide.cols, wide.rows) / 3) | 1);
        cv::dilate(wide, wide, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(reach, reach)));
        cv::GaussianBlur(wide, wide, cv::Size(0, 0), reach / 4.0);
        cv::resize(wide, wide, channels[0].size(), 0, 0, cv::INTER_LINEAR);
        cv::Mat belowPaper;
        cv::subtract(wide, channels[0], belowPaper);
        cv::Mat middle = (belowPaper > 30) & (belowPaper < 190) & (chroma <= 28);
        cv::erode(middle, middle, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(5, 5)));
        content->ink_fraction = static_cast<double>(inked) / inner.area();
        content->marks = marks;
        content->largest_mark = largest;
        content->chromatic_fraction = static_cast<double>(cv::countNonZero(colourful)) / inner.area();
        content->gray_fraction = static_cast<double>(cv::countNonZero(middle)) / inner.area();
        return CK_DOC_OK;
    } catch (...) {
        return CK_DOC_FAILED;
    }
}

extern "C" double ck_doc_jaccard(const double a[8], const double b[8]) {
    try {
        std::vector<cv::Point2f> first, second, both;
        for (int k = 0; k < 4; ++k) {
            first.emplace_back(static_cast<float>(a[2 * k]), static_cast<float>(a[2 * k + 1]));
            second.emplace_back(static_cast<float>(b[2 * k]), static_cast<float>(b[2 * k + 1]));
        }
        const double areaA = std::fabs(cv::contourArea(first)), areaB = std::fabs(cv::contourArea(second));
        const double intersection = cv::intersectConvexConvex(first, second, both, true);
        const double united = areaA + areaB - std::max(0.0, static_cast<double>(intersection));
        return united > 0 ? std::max(0.0, static_cast<double>(intersection)) / united : 0;
    } catch (...) {
        return 0;
    }
}
