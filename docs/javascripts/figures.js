// Every figure in a page links to its full-size image, for a closer look at a
// wide figure that the content column scales down.
document.querySelectorAll(".md-content__inner p > img").forEach((img) => {
  if (img.closest("a")) {
    return;
  }
  const link = document.createElement("a");
  link.href = img.getAttribute("src");
  link.title = "Open the full-size figure";
  img.replaceWith(link);
  link.appendChild(img);
});
