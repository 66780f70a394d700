import streamlit as st
st.write('admin_users')
